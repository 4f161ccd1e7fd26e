/**
 * Two hook servers (two replicas of the hook Deployment, real HTTP) driven concurrently against
 * one cluster of real mariadbd instances on 127.10.71.x, through a switchover and a failover.
 * While one server's operation holds the operation lock, the other server gets the same
 * request (Metacontroller retrying on the other replica): its operation must be deferred by the
 * lock, never run concurrently. The outcome: exactly one writable primary, no errant GTIDs, no
 * lost acknowledged write (docs/clustering.md "One operation at a time").
 */
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { pino } from "pino";
import { z } from "zod";
import { EnvConfigSchema } from "../../src/api/env.js";
import { OPERATION_LOCK } from "../../src/mysql/index.js";
import { mariaErrant } from "../../src/topology/gtid.js";
import { startHookServer, type RunningServer } from "../../src/server/app.js";
import { APP_USER, destroyConnection, MariaDBHarness, TEST_PASSWORDS, type MariaDBInstance } from "../helpers/mariadb.js";
import { asObserved, clusterObject, pod, syncRequest, type Obj } from "../helpers/metacontroller.js";

const SUBNET = 71;
const CLUSTER = "db";
const h = new MariaDBHarness({ subnet: SUBNET });
const insts: MariaDBInstance[] = [];
const servers: { server: RunningServer; logs: () => string; name: string }[] = [];
let spec: Record<string, unknown> = { flavor: "mariadb", instances: 3, credentialsSecretName: "db-secrets", failover: { delaySeconds: 1 } };

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const SECRET: Obj = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "db-secrets", namespace: "shop-ns" },
  type: "Opaque",
  data: { "root-password": b64("root-pw"), "operator-password": b64(TEST_PASSWORDS.operator), "replication-password": b64(TEST_PASSWORDS.replication) },
};

/** What Metacontroller holds: the parent's status and the observed children. */
const state: { status: unknown; children: Obj[] } = { status: undefined, children: [] };

function body(): Record<string, unknown> {
  const parent = clusterObject(CLUSTER, spec, state.status === undefined ? {} : { status: state.status });
  const pods = insts.filter((i) => i.alive).map((i) => pod(CLUSTER, i.ordinal, { ip: i.host }));
  return syncRequest({ parent, children: state.children, related: [...pods, SECRET] });
}

interface SyncAnswer {
  code: number;
  text: string;
  json: { status?: Record<string, unknown>; children?: Obj[] } | undefined;
}

async function post(n: number, b: Record<string, unknown>): Promise<SyncAnswer> {
  const res = await fetch(`${servers[n]?.server.url}/hooks/mysqlcluster/sync`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(b),
  });
  const text = await res.text();
  return { code: res.status, text, json: res.status === 200 ? (JSON.parse(text) as SyncAnswer["json"]) : undefined };
}

/** Applies a 200 answer as Metacontroller would (status and children written). */
function apply(a: SyncAnswer): void {
  if (a.code !== 200 || !a.json) return;
  state.status = a.json.status;
  const parent = clusterObject(CLUSTER, spec, { status: state.status });
  state.children = (a.json.children ?? []).map((c, i) => asObserved(c, parent, i));
}

const statusView = () =>
  z
    .object({
      state: z.string().optional(),
      currentPrimary: z.string().optional(),
      instances: z.array(z.object({ name: z.string(), role: z.string(), ready: z.boolean(), errantTransactions: z.string().optional() })).optional(),
    })
    .parse(state.status ?? {});

/**
 * Alternates the two servers until `primary` (any, when undefined) is the primary and every
 * live instance is ready (Healthy, or Degraded by the instances that are down).
 */
async function converge(primary: string | undefined, max = 40): Promise<void> {
  const down = () => new Set(insts.filter((i) => !i.alive).map((i) => `${CLUSTER}-${i.ordinal}`));
  for (let n = 0; n < max; n++) {
    apply(await post(n % 2, body()));
    const s = statusView();
    const live = (s.instances ?? []).filter((i) => !down().has(i.name));
    const settled = down().size === 0 ? s.state === "Healthy" : s.state === "Degraded";
    if (settled && s.currentPrimary && !down().has(s.currentPrimary) && (primary === undefined || s.currentPrimary === primary) && live.every((i) => i.ready))
      return;
    await sleep(100);
  }
  throw new Error(`did not converge: ${JSON.stringify(state.status)}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function rootConn(i: MariaDBInstance): Promise<mysql.Connection> {
  return mysql.createConnection({ socketPath: join(i.dir, "mysqld.sock"), user: "root", connectTimeout: 2000 });
}

async function rootValue(i: MariaDBInstance, sql: string): Promise<unknown> {
  const rows = z.array(z.record(z.string(), z.unknown())).parse(await h.rootQuery(i, sql));
  return Object.values(rows[0] ?? {})[0];
}

/** Whether any live instance shows the operation lock as held. */
async function lockHeld(): Promise<boolean> {
  for (const i of insts.filter((x) => x.alive)) {
    if ((await rootValue(i, `SELECT IS_USED_LOCK('${OPERATION_LOCK}')`).catch(() => null)) !== null) return true;
  }
  return false;
}

/** Root sessions holding LOCK TABLES shop.t READ: the instances' appliers stop at the table. */
async function holdAppliers(on: MariaDBInstance[]): Promise<mysql.Connection[]> {
  const holds = await Promise.all(on.map(rootConn));
  for (const c of holds) await c.query("LOCK TABLES shop.t READ");
  return holds;
}

/**
 * Sends the current request to server 0 and, as soon as an operation holds the lock (the held
 * appliers make it wait for a catch-up), the same request to server 1 (Metacontroller retrying
 * on the other replica); then releases the appliers. Repeats until that overlap happened.
 * Answers are applied in arrival order.
 */
async function overlapping(holds: mysql.Connection[], max = 40): Promise<{ first: SyncAnswer; second: SyncAnswer }> {
  const seen: string[] = [];
  for (let n = 0; n < max; n++) {
    const b = body();
    const firstP = post(0, b);
    let done = false;
    void firstP.finally(() => (done = true));
    let second: SyncAnswer | undefined;
    while (!done && !second) {
      if (await lockHeld()) second = await post(1, b);
      else await sleep(5);
    }
    if (second) for (const c of holds) await c.query("UNLOCK TABLES");
    const first = await firstP;
    seen.push(`${first.code}`);
    if (second) {
      apply(second);
      apply(first);
      return { first, second };
    }
    apply(first);
    await sleep(200);
  }
  throw new Error(`no operation held the lock in ${max} syncs (answers ${seen.join(", ")}): ${JSON.stringify(state.status)}`);
}

/** The received GTID sequence number (domain 0) of a replica. */
async function receivedSeq(i: MariaDBInstance): Promise<number> {
  const rows = z.array(z.object({ Gtid_IO_Pos: z.string() }).passthrough()).parse(await h.rootQuery(i, "SHOW SLAVE STATUS"));
  return Number(/(?:^|,)0-\d+-(\d+)/.exec(rows[0]?.Gtid_IO_Pos ?? "")?.[1] ?? 0);
}

async function metric(n: number, name: string, match: string): Promise<number> {
  const text = await (await fetch(`${servers[n]?.server.url}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name) && l.includes(match))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

/** Acknowledged writes: inserts through the app account into whichever instance accepts them. */
class Writer {
  readonly acked = new Set<number>();
  private next = 1;
  private stopped = false;
  private loop: Promise<void> | undefined;
  start(): void {
    this.stopped = false;
    this.loop = (async () => {
      while (!this.stopped) {
        for (const i of insts.filter((x) => x.alive)) {
          const id = this.next++;
          const ok = await insertOne(i, id);
          if (ok) this.acked.add(id);
        }
        await sleep(5);
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

async function insertOne(i: MariaDBInstance, id: number): Promise<boolean> {
  let conn: mysql.Connection | undefined;
  try {
    conn = await mysql.createConnection({ host: i.host, port: 3306, user: APP_USER, password: TEST_PASSWORDS.app, connectTimeout: 300 });
    await conn.query({ sql: "INSERT INTO shop.t (id) VALUES (?)", values: [id], timeout: 1000 });
    return true;
  } catch {
    return false;
  } finally {
    if (conn) destroyConnection(conn);
  }
}

/** The invariants after convergence: one writable primary, replicas caught up, nothing errant, nothing lost. */
async function assertConverged(writer: Writer): Promise<void> {
  const alive = insts.filter((i) => i.alive);
  const writable = [];
  for (const i of alive) if (Number(await rootValue(i, "SELECT @@read_only")) === 0) writable.push(i.name);
  expect(writable).toHaveLength(1);
  const s = statusView();
  const primary = insts.find((i) => `${CLUSTER}-${i.ordinal}` === s.currentPrimary);
  expect(primary?.alive).toBe(true);
  expect(writable).toEqual([primary?.name]);
  for (const i of s.instances ?? []) {
    expect(i.role).not.toBe("errant");
    if (alive.some((a) => `${CLUSTER}-${a.ordinal}` === i.name)) expect(i.ready, i.name).toBe(true);
    expect(i.errantTransactions).toBeUndefined();
  }
  // Every acknowledged row is on the primary and, once applied, on every replica.
  const pos = String(await rootValue(primary as MariaDBInstance, "SELECT @@gtid_binlog_pos"));
  for (const i of alive) {
    if (i !== primary) expect(Number(await rootValue(i, `SELECT MASTER_GTID_WAIT('${pos}', 10)`))).toBe(0);
    const rows = z.array(z.object({ id: z.number() })).parse(await h.rootQuery(i, "SELECT id FROM shop.t"));
    const have = new Set(rows.map((r) => r.id));
    const lost = [...writer.acked].filter((id) => !have.has(id));
    expect(lost, `${i.name} lacks acknowledged rows`).toEqual([]);
    // No instance has a transaction the primary does not (no errant GTIDs), by binlog state.
    const instanceState = String(await rootValue(i, "SELECT @@gtid_binlog_state"));
    const primaryState = String(await rootValue(primary as MariaDBInstance, "SELECT @@gtid_binlog_state"));
    expect(mariaErrant(instanceState, primaryState), `${i.name}: ${instanceState} vs primary ${primaryState}`).toEqual([]);
  }
}

beforeAll(async () => {
  insts.push(...(await Promise.all([0, 1, 2].map((n) => h.start(n)))));
  const config = { ...EnvConfigSchema.parse({}), MYSQL_CONNECT_TIMEOUT_MS: 500 };
  for (const name of ["hook-a", "hook-b"]) {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString("utf8"));
        cb();
      },
    });
    const server = await startHookServer({ host: "127.0.0.1", port: 0, config, logger: pino({ level: "info", base: { name } }, stream) });
    servers.push({ server, name, logs: () => chunks.join("") });
  }
}, 120_000);

afterAll(async () => {
  for (const s of servers) await s.server.close();
  await h.stopAll();
}, 60_000);

describe("two hook servers, one cluster", () => {
  const writer = new Writer();

  it("bootstrap: converges to one primary through both servers", async () => {
    await converge(undefined);
    const primary = insts.find((i) => `${CLUSTER}-${i.ordinal}` === statusView().currentPrimary) as MariaDBInstance;
    const c = await mysql.createConnection({ host: primary.host, port: 3306, user: APP_USER, password: TEST_PASSWORDS.app });
    try {
      await c.query("CREATE DATABASE IF NOT EXISTS shop");
      await c.query("CREATE TABLE IF NOT EXISTS shop.t (id INT PRIMARY KEY)");
    } finally {
      destroyConnection(c);
    }
    await converge(undefined);
  }, 60_000);

  it("switchover: the second server's operation is deferred by the lock; one writable primary, nothing lost", async () => {
    const before = statusView().currentPrimary;
    const target = insts.find((i) => `${CLUSTER}-${i.ordinal}` !== before) as MariaDBInstance;
    const targetName = `${CLUSTER}-${target.ordinal}`;
    spec = { ...spec, memberWeights: { [String(target.ordinal)]: 100 } };
    // A hook whose budget cannot fit a switchover does not start one: it answers the previous
    // status and the children unchanged, and counts the deferral.
    const tight = await startHookServer({
      host: "127.0.0.1",
      port: 0,
      config: { ...EnvConfigSchema.parse({}), SYNC_BUDGET_MS: 1500 },
      logger: pino({ level: "silent" }),
    });
    try {
      const b = body();
      const res = await fetch(`${tight.url}/hooks/mysqlcluster/sync`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(b),
      });
      expect(res.status).toBe(200);
      const answer = (await res.json()) as { status: unknown; children: Obj[] };
      expect(answer.status).toEqual(state.status);
      expect(answer.children.map((c) => `${c.kind}/${c.metadata.name}`).sort()).toEqual(state.children.map((c) => `${c.kind}/${c.metadata.name}`).sort());
      const metrics = await (await fetch(`${tight.url}/metrics`)).text();
      expect(metrics).toMatch(/metamysql_operations_deferred_total\{[^}]*operation="switchover",reason="budget"\} 1/);
      const old = insts.find((i) => `${CLUSTER}-${i.ordinal}` === before) as MariaDBInstance;
      expect(Number(await rootValue(old, "SELECT @@read_only"))).toBe(0);
    } finally {
      await tight.close();
    }
    writer.start();
    await sleep(200);
    // The candidate's applier is held back, so the switchover waits (holding the lock) for it.
    const holds = await holdAppliers([target]);
    try {
      const { first, second } = await overlapping(holds);
      expect(first.code, first.text).toBe(200);
      expect(second.code, second.text).toBe(200);
    } finally {
      for (const c of holds) destroyConnection(c);
    }
    await converge(targetName);
    await writer.stop();
    expect(writer.acked.size).toBeGreaterThan(0);
    await assertConverged(writer);
    expect(await metric(1, "metamysql_operations_deferred_total", 'reason="lock"')).toBeGreaterThanOrEqual(1);
    expect(servers[1]?.logs()).toMatch(/deferred: another operation holds the lock on db-\d/);
    expect(await metric(0, "metamysql_operations_total", 'operation="switchover",result="success"')).toBe(1);
    expect(await metric(1, "metamysql_operations_total", 'operation="switchover",result="success"')).toBe(0);
  }, 90_000);

  it("failover: the second server's operation is deferred by the lock; one writable primary, nothing acknowledged lost", async () => {
    const old = insts.find((i) => `${CLUSTER}-${i.ordinal}` === statusView().currentPrimary) as MariaDBInstance;
    const replicas = insts.filter((i) => i !== old);
    const deferredBefore = await metric(1, "metamysql_operations_deferred_total", 'reason="lock"');
    writer.start();
    await sleep(300);
    await writer.stop();
    // Every acknowledged row was received by both replicas before the primary dies.
    const pos = String(await rootValue(old, "SELECT @@gtid_binlog_pos"));
    for (const r of replicas) expect(Number(await rootValue(r, `SELECT MASTER_GTID_WAIT('${pos}', 10)`))).toBe(0);
    // Hold back the replicas' appliers with a row received but not applied, then kill the
    // primary: the failover waits for the candidate's relay log, holding the lock.
    const holds = await holdAppliers(replicas);
    try {
      expect(await insertOne(old, 1_000_000)).toBe(true);
      writer.acked.add(1_000_000);
      const seq = Number(/(?:^|,)0-\d+-(\d+)/.exec(String(await rootValue(old, "SELECT @@gtid_binlog_pos")))?.[1]);
      for (const r of replicas) {
        for (let n = 0; n < 200 && (await receivedSeq(r)) < seq; n++) await sleep(25);
        expect(await receivedSeq(r)).toBeGreaterThanOrEqual(seq);
      }
      await h.kill(old);
      const { first, second } = await overlapping(holds);
      expect(first.code, first.text).toBe(200);
      expect(second.code, second.text).toBe(200);
    } finally {
      for (const c of holds) destroyConnection(c);
    }
    await converge(undefined);
    expect(statusView().currentPrimary).not.toBe(`${CLUSTER}-${old.ordinal}`);
    await assertConverged(writer);
    expect(await metric(1, "metamysql_operations_deferred_total", 'reason="lock"')).toBeGreaterThan(deferredBefore);
    expect(await metric(1, "metamysql_operations_total", 'operation="failover",result="success"')).toBe(0);
    expect(await metric(0, "metamysql_operations_total", 'operation="failover",result="success"')).toBe(1);
  }, 120_000);
});
