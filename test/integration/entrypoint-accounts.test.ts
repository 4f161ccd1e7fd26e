/**
 * The database container's entrypoint (src/render/scripts/entrypoint.sh, run here as the real
 * file next to the rendered my.cnf and settings.env, like the ConfigMap mounts them) with real
 * mariadbd on 127.10.51.x: the Secret is the source of truth for the accounts. Every start
 * converges the accounts to the mounted Secret files on a private server without networking and
 * without writing to the binary log, so a cluster re-created on its retained data dirs with a new
 * Secret starts with the new passwords, replicas keep no GTIDs of their own, root logs in from
 * inside the pod only unless spec.remoteRoot, and the server's environment holds no password.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { z } from "zod";
import { MySQLClusterSpecSchema } from "../../src/api/cluster.js";
import { BACKUP_USER, OPERATOR_USER, PROBE_USER, REPLICATION_USER } from "../../src/api/constants.js";
import { changeSource } from "../../src/mysql/act.js";
import { connect } from "../../src/mysql/connection.js";
import { renderMyCnf } from "../../src/render/mycnf.js";
import { destroyConnection } from "../helpers/mariadb.js";
import { cleanEnv, configDir } from "../helpers/scripts.js";

const SUBNET = 51;
const host = (ordinal: number): string => `127.10.${SUBNET}.${ordinal + 10}`;

interface Passwords {
  root: string;
  operator: string;
  replication: string;
  backup: string;
}
const FIRST: Passwords = { root: "first-r'oot\\", operator: "first-op'\\", replication: "first-repl'", backup: "first-bk\\" };
const SECOND: Passwords = { root: "second-r'oot\\", operator: "second-op\\'", replication: "second-repl\\", backup: "second-bk'" };

/** One "pod": its volumes as directories, and the running entrypoint/server process. */
interface Pod {
  ordinal: number;
  dir: string;
  child?: ChildProcess;
  exited?: Promise<void>;
}

const root = mkdtempSync(join(tmpdir(), `metamysql-it-${SUBNET}-`));
const pods: Pod[] = [0, 1].map((ordinal) => ({ ordinal, dir: join(root, `db-${ordinal}`) }));

/** The ConfigMap as mounted: the scripts and settings.env of the flavor (remote root or not), and my.cnf. */
function writeConfig(pod: Pod, remoteRoot: boolean): string {
  const config = join(pod.dir, "config");
  rmSync(config, { recursive: true, force: true });
  cpSync(configDir("mariadb", { remoteRoot }), config, { recursive: true });
  const spec = MySQLClusterSpecSchema.parse({
    flavor: "mariadb",
    instances: 2,
    durability: "async",
    remoteRoot,
    mysqlConfig: { innodb_buffer_pool_size: "32M", innodb_log_file_size: "8M", max_connections: 50, performance_schema: "OFF" },
  });
  writeFileSync(join(config, "my.cnf"), renderMyCnf(spec, "db"));
  return config;
}

/** The Secrets as mounted: files named like their keys. */
function writeSecrets(pod: Pod, p: Passwords): void {
  const creds = join(pod.dir, "credentials");
  const backup = join(pod.dir, "backup-credentials");
  for (const d of [creds, backup]) {
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true, mode: 0o700 });
  }
  writeFileSync(join(creds, "root-password"), p.root, { mode: 0o400 });
  writeFileSync(join(creds, "operator-password"), p.operator, { mode: 0o400 });
  writeFileSync(join(creds, "replication-password"), p.replication, { mode: 0o400 });
  writeFileSync(join(backup, "password"), p.backup, { mode: 0o400 });
}

function podEnv(pod: Pod): Record<string, string> {
  return {
    ...cleanEnv(),
    POD_NAME: `db-${pod.ordinal}`,
    METAMYSQL_DATA_DIR: join(pod.dir, "data"),
    METAMYSQL_CONFIG_DIR: join(pod.dir, "config"),
    METAMYSQL_RUN_DIR: join(pod.dir, "run"),
    METAMYSQL_TMP_DIR: join(pod.dir, "tmp"),
    METAMYSQL_PORT: "3306",
    METAMYSQL_BIND_ADDRESS: host(pod.ordinal),
    METAMYSQL_CREDENTIALS_DIR: join(pod.dir, "credentials"),
    METAMYSQL_BACKUP_CREDENTIALS_DIR: join(pod.dir, "backup-credentials"),
  };
}

/** The readiness probe, as the kubelet runs it. */
function ready(pod: Pod): boolean {
  return spawnSync("bash", [join(pod.dir, "config", "probe.sh"), "readiness"], { env: podEnv(pod), encoding: "utf8", timeout: 10_000 }).status === 0;
}

/** Starts the container: the entrypoint, which execs the server; resolves once the probe says ready. */
async function startPod(pod: Pod, opts: { remoteRoot: boolean; secrets: Passwords; olderTemplate?: boolean }): Promise<void> {
  writeConfig(pod, opts.remoteRoot);
  writeSecrets(pod, opts.secrets);
  const log = join(pod.dir, "container.log");
  mkdirSync(pod.dir, { recursive: true });
  // A pod of the pod template before this version: passwords in its environment, no Secret volumes.
  const env = opts.olderTemplate
    ? {
        ...podEnv(pod),
        METAMYSQL_CREDENTIALS_DIR: join(pod.dir, "not-mounted"),
        METAMYSQL_BACKUP_CREDENTIALS_DIR: join(pod.dir, "not-mounted-either"),
        METAMYSQL_ROOT_PASSWORD: opts.secrets.root,
        METAMYSQL_OPERATOR_PASSWORD: opts.secrets.operator,
        METAMYSQL_REPLICATION_PASSWORD: opts.secrets.replication,
        METAMYSQL_BACKUP_PASSWORD: opts.secrets.backup,
      }
    : podEnv(pod);
  const child = spawn("bash", [join(pod.dir, "config", "entrypoint.sh")], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  pod.child = child;
  pod.exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`entrypoint of db-${pod.ordinal} exited ${child.exitCode}: ${stderr}`);
    if (ready(pod)) {
      writeFileSync(log, stderr);
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`db-${pod.ordinal} not ready: ${stderr}`);
}

/** SIGTERM, like the kubelet (the server shuts down cleanly), then wait. */
async function stopPod(pod: Pod): Promise<void> {
  if (pod.child && pod.child.exitCode === null && pod.child.signalCode === null) pod.child.kill("SIGTERM");
  await pod.exited;
  pod.child = undefined;
}

async function sql(target: { ordinal: number; user: string; password: string; socket?: boolean }, statement: string): Promise<Array<Record<string, unknown>>> {
  const pod = pods[target.ordinal];
  if (!pod) throw new Error("no pod");
  const conn = await mysql.createConnection({
    ...(target.socket ? { socketPath: join(pod.dir, "run", "mysqld.sock") } : { host: host(target.ordinal), port: 3306 }),
    user: target.user,
    password: target.password,
    connectTimeout: 3000,
  });
  try {
    const [rows] = await conn.query({ sql: statement, timeout: 10_000 });
    return Array.isArray(rows) ? z.array(z.record(z.string(), z.unknown())).parse(rows) : [];
  } finally {
    destroyConnection(conn);
  }
}

const asRoot = (ordinal: number, p: Passwords) => ({ ordinal, user: "root", password: p.root, socket: true });
const asOperator = (ordinal: number, p: Passwords) => ({ ordinal, user: OPERATOR_USER, password: p.operator });

async function gtidState(ordinal: number, p: Passwords): Promise<string> {
  return String((await sql(asRoot(ordinal, p), "SELECT @@gtid_binlog_state AS s"))[0]?.s ?? "");
}

/** Every account logs in with `p` and is refused with `refused` (TCP, except root: the socket). */
async function expectAccounts(ordinal: number, p: Passwords, refused: Passwords): Promise<void> {
  expect(await sql(asRoot(ordinal, p), "SELECT CURRENT_USER() AS u")).toEqual([{ u: "root@localhost" }]);
  for (const [user, pw] of [
    [OPERATOR_USER, p.operator],
    [REPLICATION_USER, p.replication],
    [BACKUP_USER, p.backup],
  ] as const) {
    expect(await sql({ ordinal, user, password: pw }, "SELECT CURRENT_USER() AS u")).toEqual([{ u: `${user}@%` }]);
  }
  await expect(sql(asRoot(ordinal, refused), "SELECT 1")).rejects.toThrow(/Access denied/);
  for (const [user, pw] of [
    [OPERATOR_USER, refused.operator],
    [REPLICATION_USER, refused.replication],
    [BACKUP_USER, refused.backup],
  ] as const) {
    await expect(sql({ ordinal, user, password: pw }, "SELECT 1")).rejects.toThrow(/Access denied/);
  }
}

/** Points db-1 at db-0 with the operator's own statements (the hook's), and waits until it caught up. */
async function replicate(p: Passwords): Promise<void> {
  const s = await connect({ host: host(1), port: 3306, user: OPERATOR_USER, password: p.operator, queryTimeoutMs: 5000 });
  try {
    await changeSource(s, "mariadb", { host: host(0), port: 3306, user: REPLICATION_USER, password: p.replication, semiSyncReplica: false });
  } finally {
    await s.close();
  }
  const deadline = Date.now() + 20_000;
  for (;;) {
    const [a, b] = [await gtidState(0, p), await gtidState(1, p)];
    if (a !== "" && a === b) return;
    if (Date.now() > deadline) throw new Error(`db-1 did not catch up: ${b} vs ${a}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The environment of a process, as /proc shows it. */
function environOf(pid: number): string {
  return readFileSync(`/proc/${pid}/environ`, "utf8");
}

beforeAll(() => {
  for (const pod of pods) mkdirSync(pod.dir, { recursive: true });
});

afterAll(async () => {
  for (const pod of pods) await stopPod(pod);
  rmSync(root, { recursive: true, force: true });
}, 60_000);

describe("entrypoint: the accounts follow the credentials Secret", () => {
  it("a fresh data dir: every account has the Secret's password, root only from inside the pod, no GTIDs, no password in the server's environment", async () => {
    for (const pod of pods) await startPod(pod, { remoteRoot: false, secrets: FIRST });
    for (const ordinal of [0, 1]) {
      await expectAccounts(ordinal, FIRST, SECOND);
      await expect(sql({ ordinal, user: "root", password: FIRST.root }, "SELECT 1")).rejects.toThrow(/Access denied/);
      expect(await gtidState(ordinal, FIRST)).toBe("");
    }
    for (const pod of pods) {
      const pid = pod.child?.pid ?? 0;
      expect(readFileSync(`/proc/${pid}/comm`, "utf8").trim()).toBe("mariadbd");
      const env = environOf(pid);
      expect(env).not.toMatch(/PASSWORD|MYSQL_PWD/);
      for (const pw of Object.values(FIRST)) expect(env).not.toContain(pw);
      // The private server is gone; only the run volume holds this start's copy (0700).
      expect(existsSync(join(pod.dir, "run", "init.sock"))).toBe(false);
      expect(readdirSync(join(pod.dir, "run", "credentials")).sort()).toEqual([
        "backup-password",
        "operator-password",
        "probe-password",
        "replication-password",
        "root-password",
      ]);
    }
  }, 120_000);

  it("the probes' account: inside the pod only, no privilege, a new password for every pod (kept across container restarts), and the readiness probe passes with it", async () => {
    const pod = pods[0];
    if (!pod) throw new Error("no pod");
    const grants = (await sql(asRoot(0, FIRST), `SHOW GRANTS FOR '${PROBE_USER}'@'localhost'`)) as Array<Record<string, string>>;
    expect(grants.map((g) => Object.values(g)[0])).toEqual([expect.stringMatching(/^GRANT USAGE ON \*\.\* TO `metamysql_probe`@`localhost`/)]);
    expect(await sql(asRoot(0, FIRST), `SELECT COUNT(*) AS n FROM mysql.user WHERE user = '${PROBE_USER}' AND host <> 'localhost'`)).toEqual([{ n: 0 }]);
    const first = readFileSync(join(pod.dir, "run", "credentials", "probe-password"), "utf8");
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    // A container restart keeps the pod's run volume and with it the probe password.
    await stopPod(pod);
    await startPod(pod, { remoteRoot: false, secrets: FIRST });
    expect(readFileSync(join(pod.dir, "run", "credentials", "probe-password"), "utf8")).toBe(first);
    expect(ready(pod)).toBe(true);
    // A new pod (a new run volume) gets a new one.
    await stopPod(pod);
    rmSync(join(pod.dir, "run"), { recursive: true, force: true });
    await startPod(pod, { remoteRoot: false, secrets: FIRST });
    const second = readFileSync(join(pod.dir, "run", "credentials", "probe-password"), "utf8");
    expect(second).toMatch(/^[0-9a-f]{32}$/);
    expect(second).not.toBe(first);
    expect(ready(pod)).toBe(true);
    // The operator's password changed online (a rotation): the probe does not depend on it.
    await sql(asRoot(0, FIRST), `SET STATEMENT sql_log_bin=0 FOR ALTER USER '${OPERATOR_USER}'@'%' IDENTIFIED BY 'rotated-online'`);
    expect(ready(pod)).toBe(true);
    await sql(asRoot(0, FIRST), `SET STATEMENT sql_log_bin=0 FOR ALTER USER '${OPERATOR_USER}'@'%' IDENTIFIED BY ${JSON.stringify(FIRST.operator)}`);
  }, 120_000);

  it("the operator account runs replication but cannot read or write the data", async () => {
    await sql(asRoot(0, FIRST), "SET GLOBAL read_only=OFF");
    await sql(asRoot(0, FIRST), "CREATE DATABASE shop");
    await sql(asRoot(0, FIRST), "CREATE TABLE shop.orders (id INT PRIMARY KEY)");
    await sql(asRoot(0, FIRST), "INSERT INTO shop.orders VALUES (1)");
    await replicate(FIRST);
    expect(await sql(asRoot(1, FIRST), "SELECT id FROM shop.orders")).toEqual([{ id: 1 }]);
    await expect(sql(asOperator(0, FIRST), "SELECT id FROM shop.orders")).rejects.toThrow(/denied/);
    await expect(sql(asOperator(0, FIRST), "INSERT INTO shop.orders VALUES (2)")).rejects.toThrow(/denied/);
    await expect(sql(asOperator(0, FIRST), "SELECT * FROM mysql.user")).rejects.toThrow(/denied/);
  }, 60_000);

  it("re-created on the retained data dirs with a NEW Secret: ready, new passwords in, old refused, stale grants gone, no errant GTIDs", async () => {
    // What an older operator version granted (SELECT ON *.*), out of the binary log like it did.
    for (const ordinal of [0, 1]) await sql(asRoot(ordinal, FIRST), `SET STATEMENT sql_log_bin=0 FOR GRANT SELECT ON *.* TO '${OPERATOR_USER}'@'%'`);
    const before = await gtidState(0, FIRST);
    for (const pod of [...pods].reverse()) await stopPod(pod);
    for (const pod of pods) await startPod(pod, { remoteRoot: false, secrets: SECOND });
    for (const ordinal of [0, 1]) {
      await expectAccounts(ordinal, SECOND, FIRST);
      expect(await gtidState(ordinal, SECOND)).toBe(before);
    }
    await expect(sql(asOperator(1, SECOND), "SELECT id FROM shop.orders")).rejects.toThrow(/denied/);
    // The hook re-points the replica with the new replication password; writes flow, GTID sets agree.
    await sql(asRoot(0, SECOND), "SET GLOBAL read_only=OFF");
    await sql(asRoot(0, SECOND), "INSERT INTO shop.orders VALUES (2)");
    await replicate(SECOND);
    expect(await sql(asRoot(1, SECOND), "SELECT id FROM shop.orders ORDER BY id")).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await gtidState(1, SECOND)).toBe(await gtidState(0, SECOND));
  }, 120_000);

  it("spec.remoteRoot turns root@'%' on at the next start, and off again", async () => {
    await stopPod(pods[1] as Pod);
    await startPod(pods[1] as Pod, { remoteRoot: true, secrets: SECOND });
    expect(await sql({ ordinal: 1, user: "root", password: SECOND.root }, "SELECT CURRENT_USER() AS u")).toEqual([{ u: "root@%" }]);
    await stopPod(pods[1] as Pod);
    await startPod(pods[1] as Pod, { remoteRoot: false, secrets: SECOND });
    await expect(sql({ ordinal: 1, user: "root", password: SECOND.root }, "SELECT 1")).rejects.toThrow(/Access denied/);
    expect(await gtidState(1, SECOND)).toBe(await gtidState(0, SECOND));
  }, 120_000);

  it("a pod of the older pod template (passwords in its environment) that restarts during the upgrade converges from there; its server inherits none", async () => {
    const pod = pods[1] as Pod;
    await stopPod(pod);
    await startPod(pod, { remoteRoot: false, secrets: SECOND, olderTemplate: true });
    await expectAccounts(1, SECOND, FIRST);
    const env = environOf(pod.child?.pid ?? 0);
    expect(env).not.toMatch(/PASSWORD|MYSQL_PWD/);
    for (const pw of Object.values(SECOND)) expect(env).not.toContain(pw);
  }, 60_000);

  it("a restart with the Secret and settings unchanged skips the private server (a restarted primary is back sooner); the stamp holds no password", async () => {
    const pod = pods[0] as Pod;
    await stopPod(pod);
    await startPod(pod, { remoteRoot: false, secrets: SECOND });
    await stopPod(pod);
    await startPod(pod, { remoteRoot: false, secrets: SECOND });
    const log = readFileSync(join(pod.dir, "container.log"), "utf8");
    expect(log).toContain("accounts already converged to the credentials Secret");
    expect(log).not.toContain("without binary logging");
    await expectAccounts(0, SECOND, FIRST);
    const stamp = readFileSync(join(pod.dir, "data", ".metamysql-accounts"), "utf8");
    expect(stamp).toMatch(/^[0-9a-f]{32}:[0-9a-f]{64}\n$/);
    for (const pw of Object.values(SECOND)) expect(stamp).not.toContain(pw);
    // Another password: converged again.
    await stopPod(pod);
    await startPod(pod, { remoteRoot: false, secrets: { ...SECOND, backup: "third-bk" } });
    expect(readFileSync(join(pod.dir, "container.log"), "utf8")).toContain("accounts converged to the credentials Secret without binary logging");
    await stopPod(pod);
    await startPod(pod, { remoteRoot: false, secrets: SECOND });
  }, 120_000);

  it("a Secret without a key: the container fails at once and says which key, never a value", async () => {
    const pod = pods[1] as Pod;
    await stopPod(pod);
    writeConfig(pod, false);
    writeSecrets(pod, SECOND);
    rmSync(join(pod.dir, "credentials", "operator-password"));
    const r = spawnSync("bash", [join(pod.dir, "config", "entrypoint.sh")], { env: podEnv(pod), encoding: "utf8", timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("the credentials Secret has no operator-password");
    for (const pw of Object.values(SECOND)) expect(r.stderr).not.toContain(pw);
  }, 60_000);
});
