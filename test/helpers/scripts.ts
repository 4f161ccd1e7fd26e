/**
 * The container scripts as the tests run them: the real .sh files of the repository (the same
 * text the ConfigMap ships, embedded by `npm run gen`). Spawns bash: integration tests only.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { renderSettings, SETTINGS_FILE } from "../../src/api/settings.js";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** Absolute paths of the scripts. */
export const SCRIPT = {
  accounts: resolve(ROOT, "src/render/scripts/accounts.sh"),
  entrypoint: resolve(ROOT, "src/render/scripts/entrypoint.sh"),
  probe: resolve(ROOT, "src/render/scripts/probe.sh"),
  backup: resolve(ROOT, "src/backup/scripts/backup.sh"),
  seed: resolve(ROOT, "src/backup/scripts/seed.sh"),
} as const;

const configDirs = new Map<string, string>();

/** Per-cluster settings of the rendered settings.env (src/api/settings.ts). */
export interface ConfigOptions {
  remoteRoot?: boolean;
}

/**
 * A directory laid out like the mounted ConfigMap: every script of the repository plus the
 * settings.env the renderer writes for `flavor` (src/api/settings.ts). Content-addressed under
 * the system temp dir and reused, so test processes (which vitest may end without an exit hook)
 * leave nothing that grows behind.
 */
export function configDir(flavor: "mysql" | "mariadb", opts: ConfigOptions = {}): string {
  const cacheKey = `${flavor}:${opts.remoteRoot === true}`;
  const known = configDirs.get(cacheKey);
  if (known) return known;
  const files = new Map<string, string>();
  for (const src of ["src/render/scripts", "src/backup/scripts"]) {
    for (const f of readdirSync(resolve(ROOT, src)).filter((n) => n.endsWith(".sh"))) files.set(f, readFileSync(resolve(ROOT, src, f), "utf8"));
  }
  files.set(SETTINGS_FILE, renderSettings(flavor, opts));
  const hash = createHash("sha256");
  for (const name of [...files.keys()].sort()) hash.update(`${name}\0${files.get(name) ?? ""}\0`);
  const dir = join(tmpdir(), "metamysql-test-scripts", `${flavor}-${hash.digest("hex").slice(0, 16)}`);
  if (!existsSync(dir)) {
    // Written aside, then renamed: parallel test files never see half a directory.
    mkdirSync(dirname(dir), { recursive: true });
    const tmp = mkdtempSync(`${dir}.tmp-`);
    for (const [name, text] of files) writeFileSync(join(tmp, name), text);
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another process made it first
    }
  }
  configDirs.set(cacheKey, dir);
  return dir;
}

/** Passwords of the accounts accounts.sh creates (only those the mode needs). */
export interface AccountPasswords {
  root?: string;
  operator?: string;
  replication?: string;
  backup?: string;
  apps?: string;
}

/** The environment without any METAMYSQL_* or MYSQL_* variable of the test process. */
export function cleanEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith("METAMYSQL_") && !e[0].startsWith("MYSQL_")),
  );
}

/**
 * Writes the passwords as the entrypoint lays them out for accounts.sh (files named root-password,
 * operator-password, replication-password, backup-password in a 0700 dir); returns the dir.
 */
export function writeCredentialsDir(p: AccountPasswords): string {
  const dir = mkdtempSync(join(tmpdir(), "metamysql-test-credentials-"));
  chmodSync(dir, 0o700);
  const files: Array<[string, string | undefined]> = [
    ["root-password", p.root],
    ["operator-password", p.operator],
    ["replication-password", p.replication],
    ["backup-password", p.backup],
    ["apps-password", p.apps],
  ];
  for (const [name, value] of files) if (value !== undefined) writeFileSync(join(dir, name), value, { mode: 0o600 });
  return dir;
}

/**
 * The SQL `accounts.sh <mode>` prints for a flavor, run next to the settings.env the renderer
 * puts in the ConfigMap (flavor, users, remote root). Passwords only through files, like production.
 */
export function accountsSql(mode: "converge" | "service", flavor: "mysql" | "mariadb", p: AccountPasswords, opts: ConfigOptions = {}): string {
  const credentials = writeCredentialsDir(p);
  try {
    const r = spawnSync("bash", [join(configDir(flavor, opts), "accounts.sh"), mode], {
      encoding: "utf8",
      env: { ...cleanEnv(), METAMYSQL_CREDENTIALS_DIR: credentials },
    });
    if (r.status !== 0) throw new Error(`accounts.sh ${mode} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  } finally {
    rmSync(credentials, { recursive: true, force: true });
  }
}

/** The statements of accounts.sh output, one per line, without the trailing semicolon. */
export function statements(sql: string): string[] {
  return sql
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .map((l) => l.replace(/;$/, ""));
}
