/**
 * Test harness: real mariadbd instances on loopback addresses (127.10.N.x:3306), each with its
 * own data dir copied from a template initialized once (mysql-field-notes.md "Running several
 * instances on one machine"). Every process it starts is tracked by PID and killed by `stopAll()`.
 * Never touches processes it did not start.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Socket } from "node:net";
import mysql from "mysql2/promise";
import { z } from "zod";
import { SERVER_ID_BASE } from "../../src/api/constants.js";
import { accountsSql, statements as sqlStatements } from "./scripts.js";

const MARIADBD = existsSync("/usr/sbin/mariadbd") ? "/usr/sbin/mariadbd" : "mariadbd";
const INSTALL_DB = existsSync("/usr/bin/mariadb-install-db") ? "/usr/bin/mariadb-install-db" : "mariadb-install-db";
const IS_ROOT = process.getuid?.() === 0;

/** Passwords used by every harness instance. */
export const TEST_PASSWORDS = {
  root: "",
  operator: "op'pa\\ss\"w0rd",
  replication: "repl-Pa$$'",
  backup: "bk'Pa\\ss",
  apps: "apps'Pa\\ss",
  app: "app-pw",
} as const;
/** A non-admin application account (no READ_ONLY ADMIN): refused on read-only replicas. */
export const APP_USER = "app";

/** Creates `dir` (and parents) if missing; returns it. */
function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

function commonOptions(): string[] {
  return [
    "skip_name_resolve=ON",
    "innodb_buffer_pool_size=32M",
    "innodb_log_file_size=8M",
    "innodb_flush_log_at_trx_commit=2",
    "sync_binlog=0",
    "performance_schema=OFF",
    "skip_slave_start=ON",
    "max_connections=50",
  ];
}

/** One started server. */
export interface MariaDBInstance {
  name: string;
  ordinal: number;
  host: string;
  port: number;
  serverId: number;
  dir: string;
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  alive: boolean;
}

export interface HarnessOptions {
  /** N in 127.10.N.x; one subnet per test file. */
  subnet: number;
  /** Extra [mysqld] lines for every instance. */
  extraOptions?: string[];
}

/** Starts, stops and cleans up mariadbd instances for one test file. */
export class MariaDBHarness {
  readonly root: string;
  private template: string | undefined;
  private readonly instances = new Map<number, MariaDBInstance>();
  private readonly started: MariaDBInstance[] = [];

  constructor(private readonly opts: HarnessOptions) {
    if (opts.subnet < 0 || opts.subnet > 255) throw new Error("subnet must be 0..255");
    this.root = mkdtempSync(join(tmpdir(), `metamysql-it-${opts.subnet}-`));
  }

  /** 127.10.N.(ordinal+10). */
  hostOf(ordinal: number): string {
    return `127.10.${this.opts.subnet}.${ordinal + 10}`;
  }

  private defaultsFile(dir: string, host: string, serverId: number, datadir: string): string {
    const lines = [
      "[mysqld]",
      ...(IS_ROOT ? ["user=root"] : []),
      `datadir=${datadir}`,
      `socket=${join(dir, "mysqld.sock")}`,
      `pid_file=${join(dir, "mysqld.pid")}`,
      `log_error=${join(dir, "error.log")}`,
      // Its own tmpdir: a starting mariadbd deletes every "#sql*" file in its tmpdir
      // (mysql_rm_tmp_tables), which in a shared /tmp are other servers' temporary tables.
      `tmpdir=${ensureDir(join(dir, "tmp"))}`,
      `bind_address=${host}`,
      "port=3306",
      `server_id=${serverId}`,
      "log_bin=mysql-bin",
      "relay_log=relay-bin",
      "binlog_format=ROW",
      "log_slave_updates=ON",
      "gtid_strict_mode=ON",
      "read_only=ON",
      "rpl_semi_sync_slave_enabled=ON",
      "rpl_semi_sync_master_enabled=OFF",
      "rpl_semi_sync_master_wait_point=AFTER_SYNC",
      ...commonOptions(),
      ...(this.opts.extraOptions ?? []),
      "",
    ];
    const file = join(dir, "my.cnf");
    writeFileSync(file, lines.join("\n"));
    return file;
  }

  private ensureTemplate(): string {
    if (this.template) return this.template;
    const dir = join(this.root, "template");
    const cnf = join(this.root, "template.cnf");
    const tmp = ensureDir(join(this.root, "template-tmp"));
    writeFileSync(cnf, ["[mysqld]", ...(IS_ROOT ? ["user=root"] : []), `datadir=${join(dir, "data")}`, `tmpdir=${tmp}`, ...commonOptions(), ""].join("\n"));
    const r = spawnSync(
      INSTALL_DB,
      [`--defaults-file=${cnf}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...(IS_ROOT ? ["--user=root"] : [])],
      { encoding: "utf8", timeout: 60_000, env: { ...process.env, TMPDIR: tmp } },
    );
    if (r.status !== 0) throw new Error(`mariadb-install-db failed: ${r.stderr || r.stdout}`);
    this.template = join(dir, "data");
    return this.template;
  }

  /** Starts instance `ordinal` (server_id = SERVER_ID_BASE + ordinal); creates accounts on first start. */
  async start(ordinal: number): Promise<MariaDBInstance> {
    const existing = this.instances.get(ordinal);
    if (existing?.alive) throw new Error(`instance ${ordinal} already running`);
    const dir = join(this.root, `i${ordinal}`);
    const datadir = join(dir, "data");
    const fresh = !existsSync(datadir);
    if (fresh) cpSync(this.ensureTemplate(), datadir, { recursive: true });
    const host = this.hostOf(ordinal);
    const serverId = SERVER_ID_BASE + ordinal;
    const cnf = this.defaultsFile(dir, host, serverId, datadir);
    const child = spawn(MARIADBD, [`--defaults-file=${cnf}`], { stdio: "ignore" });
    if (child.pid === undefined) throw new Error(`cannot spawn ${MARIADBD}`);
    const inst: MariaDBInstance = {
      name: `db-${ordinal}`,
      ordinal,
      host,
      port: 3306,
      serverId,
      dir,
      child,
      pid: child.pid,
      alive: true,
      exited: new Promise<void>((resolve) => child.once("exit", () => resolve())),
    };
    void inst.exited.then(() => {
      inst.alive = false;
    });
    this.instances.set(ordinal, inst);
    this.started.push(inst);
    await this.waitReady(inst);
    if (fresh) await this.createAccounts(inst);
    return inst;
  }

  private async waitReady(inst: MariaDBInstance, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastErr: unknown;
    while (Date.now() < deadline) {
      if (!inst.alive) throw new Error(`mariadbd ${inst.name} exited during startup (see ${inst.dir}/error.log)`);
      try {
        const id = await this.rootQuery(inst, "SELECT @@server_id AS id");
        const parsed = z.array(z.object({ id: z.union([z.number(), z.string()]) })).parse(id);
        if (Number(parsed[0]?.id) === inst.serverId) return;
        lastErr = new Error(`wrong server_id ${String(parsed[0]?.id)}`);
      } catch (err) {
        lastErr = err;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`mariadbd ${inst.name} not ready: ${String(lastErr)}`);
  }

  /** Runs a statement as root over the instance's unix socket (admin path, like kubectl exec). */
  async rootQuery(inst: MariaDBInstance, sql: string, values: unknown[] = []): Promise<unknown> {
    const conn = await mysql.createConnection({ socketPath: join(inst.dir, "mysqld.sock"), user: "root", connectTimeout: 2000 });
    try {
      const [rows] = await conn.query({ sql, values, timeout: 10_000 });
      return rows;
    } finally {
      destroyConnection(conn);
    }
  }

  private async createAccounts(inst: MariaDBInstance): Promise<void> {
    const statements = [
      // The accounts as production creates them (accounts.sh, the one definition), root untouched.
      ...sqlStatements(
        accountsSql("service", "mariadb", {
          operator: TEST_PASSWORDS.operator,
          replication: TEST_PASSWORDS.replication,
          backup: TEST_PASSWORDS.backup,
          apps: TEST_PASSWORDS.apps,
        }),
      ),
      "SET SESSION sql_log_bin=0",
      `CREATE USER IF NOT EXISTS '${APP_USER}'@'%' IDENTIFIED BY '${TEST_PASSWORDS.app}'`,
      `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP ON *.* TO '${APP_USER}'@'%'`,
    ];
    const conn = await mysql.createConnection({ socketPath: join(inst.dir, "mysqld.sock"), user: "root", connectTimeout: 2000 });
    try {
      for (const sql of statements) await conn.query(sql);
      // Nothing written at bootstrap may reach the binary log (field notes).
      const [rows] = await conn.query("SELECT @@gtid_binlog_state AS s");
      const state = z.array(z.object({ s: z.string() })).parse(rows)[0]?.s ?? "";
      if (state !== "") throw new Error(`account setup wrote GTIDs: ${state}`);
    } finally {
      destroyConnection(conn);
    }
  }

  /** Sends a signal to the instance's process (by PID). */
  signal(inst: MariaDBInstance, sig: NodeJS.Signals): void {
    if (inst.alive) process.kill(inst.pid, sig);
  }

  /** SIGKILL and wait for exit. */
  async kill(inst: MariaDBInstance): Promise<void> {
    this.signal(inst, "SIGKILL");
    await inst.exited;
  }

  /** SIGTERM (clean shutdown) and wait for exit; SIGKILL after `timeoutMs`. */
  async stop(inst: MariaDBInstance, timeoutMs = 15_000): Promise<void> {
    if (!inst.alive) return;
    this.signal(inst, "SIGCONT");
    this.signal(inst, "SIGTERM");
    const timer = setTimeout(() => this.signal(inst, "SIGKILL"), timeoutMs);
    await inst.exited;
    clearTimeout(timer);
  }

  /** Stops everything this harness started and removes its files; throws if a process survived. */
  async stopAll(): Promise<void> {
    await Promise.all(this.started.map((i) => (i.alive ? this.kill(this.resume(i)) : Promise.resolve())));
    const survivors = this.started.filter((i) => i.alive || pidAlive(i.pid));
    rmSync(this.root, { recursive: true, force: true });
    if (survivors.length > 0) throw new Error(`processes left running: ${survivors.map((i) => i.pid).join(", ")}`);
  }

  private resume(inst: MariaDBInstance): MariaDBInstance {
    this.signal(inst, "SIGCONT");
    return inst;
  }
}

function pidAlive(pid: number): boolean {
  // Our children are reaped by Node (we waited for 'exit'), so kill -0 failing means gone.
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Closes a mysql2/promise connection for good: destroy() plus the socket (field notes). */
export function destroyConnection(conn: object): void {
  try {
    Reflect.apply(Reflect.get(conn, "destroy"), conn, []);
  } catch {
    // already broken
  }
  const core: unknown = Reflect.get(conn, "connection");
  const stream: unknown = core !== null && typeof core === "object" ? Reflect.get(core, "stream") : undefined;
  if (stream instanceof Socket && !stream.destroyed) stream.destroy();
}
