/**
 * A real WordPress site for the tests (issue 11): Debian's `wordpress` package (code under
 * /usr/share/wordpress, default theme twentytwentythree), served by PHP's built-in web server on
 * 127.0.0.1, against any MySQL endpoint. scripts/setup-mariadb.sh installs the packages.
 *
 * The site is self-contained in a temporary directory and needs no root and no change under /etc:
 * Debian's own wp-config.php looks for /etc/wordpress/config-<host>.php, so the site copies the
 * small top-level PHP files (wp-load.php takes ABSPATH from its own location, and PHP resolves
 * symlinks in __FILE__), writes its own wp-config.php there, and links wp-includes, wp-admin and
 * the packaged themes and plugins. Pages under wp-admin/ are not served (they find the package's
 * wp-load.php through their own real path); the site is installed and posts are published with
 * the PHP command line instead, which is what the tests measure anyway.
 *
 * Every publication is one fresh `php` process, as every web request is one PHP run: it loads
 * WordPress, connects, inserts the post and exits. A post is acknowledged only when that process
 * exits 0 after printing the new post's ID; anything else (a database error, WordPress's "Error
 * establishing a database connection" page, which exits 0 through die(), a timeout) is not.
 * Connections fail fast (connect timeout 2 s, read timeout 10 s) so that a failover never hangs a
 * process for long. The server's PID is the only process left running, and `stop()` ends it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";

/** Where Debian's wordpress package keeps WordPress. */
export const WORDPRESS_DIR = "/usr/share/wordpress";
const PHP = "php";
/** Applied to every PHP run: mysqlnd's connect timeout is default_socket_timeout. */
const PHP_INI = ["-d", "default_socket_timeout=2", "-d", "mysqlnd.net_read_timeout=10", "-d", "display_errors=stderr", "-d", "memory_limit=256M"];
const RESULT_MARK = "METAMYSQL-RESULT ";

/** Where the site's database is: what the `<user>-connection` Secret provides. */
export interface WordPressDatabase {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** The outcome of one publication. */
export type PublishResult = { ok: true; id: number; ms: number } | { ok: false; error: string; ms: number };

/** One published post as WordPress lists it. */
export interface Post {
  id: number;
  title: string;
}

const PostsSchema = z.array(z.object({ id: z.number().int().positive(), title: z.string() }));
const PublishSchema = z.object({ id: z.number().int().positive() });
const InstallSchema = z.object({ installed: z.boolean(), userId: z.number().int() });

/** A PHP string literal (single-quoted: only \ and ' are special). */
function phpString(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once("error", () => done(false));
    s.connect(port, "127.0.0.1", () => done(true));
  });
}

// The PHP programs the site runs, each one process. Input comes as JSON on stdin (never on the
// command line, where the process table shows it); the result is the last line, after the mark.
const BOOT = `<?php
// Exit 1 unless the program reached its end: WordPress's dead_db() and wp_die() end with die(),
// which would otherwise exit 0.
$metamysql_done = false;
register_shutdown_function(function () use (&$metamysql_done) {
    if (!$metamysql_done) { fwrite(STDERR, "metamysql: the PHP program ended before finishing\\n"); exit(1); }
});
$metamysql_in = json_decode(stream_get_contents(STDIN), true) ?: array();
$_SERVER['HTTP_HOST'] = isset($metamysql_in['host']) ? $metamysql_in['host'] : '127.0.0.1';
$_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['REQUEST_URI'] = '/';
function metamysql_result($value) {
    global $metamysql_done;
    echo "\\n${RESULT_MARK}" . json_encode($value) . "\\n";
    $metamysql_done = true;
}
function metamysql_fail($message) {
    fwrite(STDERR, "metamysql: " . $message . "\\n");
    exit(1);
}
`;

const INSTALL = `<?php
define('WP_INSTALLING', true);
require __DIR__ . '/boot.php';
require dirname(__DIR__) . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
// No mail on this machine: the new-site notice would only fail.
add_filter('pre_wp_mail', '__return_false');
if (is_blog_installed()) {
    metamysql_result(array('installed' => false, 'userId' => 0));
    return;
}
$r = wp_install($metamysql_in['title'], 'admin', 'admin@example.invalid', true, '', $metamysql_in['adminPassword']);
if (!is_blog_installed() || empty($r['user_id'])) metamysql_fail('wp_install did not install the site: ' . $wpdb->last_error);
metamysql_result(array('installed' => true, 'userId' => (int) $r['user_id']));
`;

const PUBLISH = `<?php
define('WP_USE_THEMES', false);
require __DIR__ . '/boot.php';
require dirname(__DIR__) . '/wp-load.php';
$id = wp_insert_post(array(
    'post_title' => $metamysql_in['title'],
    'post_content' => $metamysql_in['content'],
    'post_status' => 'publish',
    'post_author' => 1,
), true);
if (is_wp_error($id)) metamysql_fail('wp_insert_post: ' . $id->get_error_message());
if (!$id) metamysql_fail('wp_insert_post returned no ID');
if ($wpdb->last_error !== '') metamysql_fail('database error: ' . $wpdb->last_error);
metamysql_result(array('id' => (int) $id));
`;

const POSTS = `<?php
define('WP_USE_THEMES', false);
require __DIR__ . '/boot.php';
require dirname(__DIR__) . '/wp-load.php';
$posts = get_posts(array('numberposts' => -1, 'post_status' => 'publish', 'post_type' => 'post', 'orderby' => 'ID', 'order' => 'ASC', 'suppress_filters' => true));
if ($wpdb->last_error !== '') metamysql_fail('database error: ' . $wpdb->last_error);
$out = array();
foreach ($posts as $p) $out[] = array('id' => (int) $p->ID, 'title' => $p->post_title);
metamysql_result($out);
`;

/**
 * A WordPress site in a temporary directory, served on 127.0.0.1 by `php -S` once `start()` ran.
 * `database` is read at every PHP run (wp-config.php is rewritten by `setDatabase`).
 */
export class WordPressSite {
  readonly dir: string;
  readonly docroot: string;
  port = 0;
  private server: ChildProcess | undefined;
  private serverExited: Promise<void> | undefined;
  private serverLog = "";
  readonly adminPassword = randomBytes(12).toString("base64url");

  private constructor(private db: WordPressDatabase) {
    this.dir = mkdtempSync(join(tmpdir(), "metamysql-wordpress-"));
    this.docroot = join(this.dir, "site");
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Lays out the site for `db` (nothing runs yet). */
  static async create(db: WordPressDatabase): Promise<WordPressSite> {
    const site = new WordPressSite(db);
    site.port = await freePort();
    site.layout();
    return site;
  }

  private layout(): void {
    mkdirSync(this.docroot);
    mkdirSync(join(this.dir, "opcache"));
    for (const entry of readdirSync(WORDPRESS_DIR)) {
      const src = join(WORDPRESS_DIR, entry);
      if (entry === "wp-config.php" || entry === "wp-content" || entry.startsWith(".")) continue;
      if (statSync(src).isDirectory()) symlinkSync(src, join(this.docroot, entry));
      else copyFileSync(src, join(this.docroot, entry));
    }
    const content = join(this.docroot, "wp-content");
    mkdirSync(join(content, "uploads"), { recursive: true });
    for (const entry of readdirSync(join(WORDPRESS_DIR, "wp-content"))) symlinkSync(join(WORDPRESS_DIR, "wp-content", entry), join(content, entry));
    const bin = join(this.docroot, "metamysql");
    mkdirSync(bin);
    // Not reachable over HTTP: the server serves these only as PHP, and they read stdin.
    writeFileSync(join(bin, "index.php"), "<?php http_response_code(404);\n");
    writeFileSync(join(bin, "boot.php"), BOOT.replace("<?php\n", `<?php\nif (PHP_SAPI !== 'cli') { http_response_code(404); exit; }\n`));
    writeFileSync(join(bin, "install.php"), INSTALL);
    writeFileSync(join(bin, "publish.php"), PUBLISH);
    writeFileSync(join(bin, "posts.php"), POSTS);
    this.writeConfig();
  }

  /** Points the site at another database endpoint (takes effect at the next PHP run). */
  setDatabase(db: WordPressDatabase): void {
    this.db = db;
    this.writeConfig();
  }

  private writeConfig(): void {
    const salt = (): string => phpString(randomBytes(32).toString("base64"));
    const keys = ["AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"];
    const text = [
      "<?php",
      "// Written by test/helpers/wordpress.ts: this site's own configuration (not /etc/wordpress).",
      `define('DB_NAME', ${phpString(this.db.database)});`,
      `define('DB_USER', ${phpString(this.db.user)});`,
      `define('DB_PASSWORD', ${phpString(this.db.password)});`,
      `define('DB_HOST', ${phpString(`${this.db.host}:${this.db.port}`)});`,
      "define('DB_CHARSET', 'utf8mb4');",
      "define('DB_COLLATE', '');",
      ...keys.map((k) => `define('${k}', ${salt()});`),
      "$table_prefix = 'wp_';",
      `define('METAMYSQL_URL', ${phpString(this.url)});`,
      "define('WP_HOME', METAMYSQL_URL);",
      "define('WP_SITEURL', METAMYSQL_URL);",
      // Nothing leaves 127.0.0.0/8: no update checks, no cron loopback requests, no mail.
      "define('WP_HTTP_BLOCK_EXTERNAL', true);",
      "define('DISABLE_WP_CRON', true);",
      "define('AUTOMATIC_UPDATER_DISABLED', true);",
      "define('WP_AUTO_UPDATE_CORE', false);",
      "define('WP_DEBUG', false);",
      "if (!defined('ABSPATH')) define('ABSPATH', __DIR__ . '/');",
      "require_once ABSPATH . 'wp-settings.php';",
      "",
    ].join("\n");
    writeFileSync(join(this.docroot, "wp-config.php"), text, { mode: 0o600 });
  }

  /** Starts `php -S 127.0.0.1:<port>` on the site; resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.server) return;
    const child = spawn(PHP, [...PHP_INI, "-S", `127.0.0.1:${this.port}`, "-t", this.docroot], {
      cwd: this.docroot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PHP_CLI_SERVER_WORKERS: "1" },
    });
    this.server = child;
    this.serverExited = new Promise((resolve) => child.once("exit", () => resolve()));
    const keep = (d: Buffer): void => {
      this.serverLog = (this.serverLog + d.toString()).slice(-20_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const deadline = Date.now() + 10_000;
    while (!(await portOpen(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await this.stop();
        throw new Error(`php -S on 127.0.0.1:${this.port} did not start: ${this.serverLog}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the web server (by its PID) and removes the site's directory. */
  async stop(): Promise<void> {
    const child = this.server;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killed = setTimeout(() => child.kill("SIGKILL"), 5000);
      await this.serverExited;
      clearTimeout(killed);
    }
    this.server = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The web server's PID while it runs. */
  get serverPid(): number | undefined {
    return this.server?.exitCode === null ? this.server.pid : undefined;
  }

  /**
   * The command line's opcode cache, kept in files of the site: each PHP run is a new process, and
   * without it every run compiles all of WordPress again (about 1 s a post instead of a fraction).
   */
  private opcache(): string[] {
    return ["-d", "opcache.enable_cli=1", "-d", `opcache.file_cache=${join(this.dir, "opcache")}`, "-d", "opcache.file_cache_only=1"];
  }

  /** Runs one of the site's PHP programs in a fresh process. */
  private async php(program: string, input: Record<string, unknown>, timeoutMs: number): Promise<{ code: number | null; out: string; err: string }> {
    return await new Promise((resolve) => {
      const child = spawn(PHP, [...PHP_INI, ...this.opcache(), join(this.docroot, "metamysql", program)], {
        cwd: this.docroot,
        stdio: ["pipe", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => {
        err += `\nkilled after ${timeoutMs} ms`;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.once("close", (code) => {
        clearTimeout(timer);
        resolve({ code, out, err });
      });
      child.stdin.on("error", () => undefined);
      child.stdin.end(JSON.stringify({ ...input, host: `127.0.0.1:${this.port}` }));
    });
  }

  private static result(run: { code: number | null; out: string; err: string }): unknown {
    const line = run.out.split("\n").find((l) => l.startsWith(RESULT_MARK));
    if (run.code !== 0 || line === undefined) {
      const why = `${run.err.trim()} ${run.out
        .replace(/<[^>]*>/g, " ")
        .replace(/\s+/g, " ")
        .trim()}`
        .trim()
        .slice(0, 600);
      throw new Error(`exit ${String(run.code)}: ${why || "no output"}`);
    }
    return JSON.parse(line.slice(RESULT_MARK.length)) as unknown;
  }

  /** Installs WordPress (tables, options, the admin user); false when it already was. */
  async install(title = "metamysql WordPress"): Promise<boolean> {
    const run = await this.php("install.php", { title, adminPassword: this.adminPassword }, 120_000);
    try {
      return InstallSchema.parse(WordPressSite.result(run)).installed;
    } catch (err) {
      throw new Error(`WordPress install failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  /** Publishes one post in a fresh PHP process; acknowledged only on exit 0 with the post's ID. */
  async publish(title: string, content = `<p>${title}</p>`, timeoutMs = 30_000): Promise<PublishResult> {
    const started = Date.now();
    const run = await this.php("publish.php", { title, content }, timeoutMs);
    try {
      const { id } = PublishSchema.parse(WordPressSite.result(run));
      return { ok: true, id, ms: Date.now() - started };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err), ms: Date.now() - started };
    }
  }

  /** Every published post, as WordPress lists them (ascending ID). */
  async posts(): Promise<Post[]> {
    const run = await this.php("posts.php", {}, 60_000);
    return PostsSchema.parse(WordPressSite.result(run));
  }

  /** GETs a path from the running site (following redirects, as a browser does); status and body. */
  async get(path = "/", timeoutMs = 30_000): Promise<{ status: number; body: string; url: string }> {
    const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text(), url: res.url };
  }

  /** The web server's recent output (for failure messages). */
  log(): string {
    return this.serverLog;
  }
}

/** Titles as WordPress prints them in HTML (wptexturize and esc_html), for plain ASCII titles. */
export function htmlTitle(title: string): string {
  return title.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
