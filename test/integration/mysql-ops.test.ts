/**
 * observe -> decide -> act against real mariadbd instances on 127.10.1.x:3306
 * (test/helpers/mariadb.ts). The decider (src/topology) drives every step, as the sync hook will.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { z } from "zod";
import { MySQLClusterSpecSchema, type MySQLClusterSpec, type MySQLClusterStatus } from "../../src/api/cluster.js";
import { OPERATOR_USER, REPLICATION_USER } from "../../src/api/constants.js";
import { readInstanceStatus } from "../../src/mysql/observe.js";
import { runOperation, type OperationConfig, type OperationResult } from "../../src/mysql/operations.js";
import { decide, type Decision, type InstanceObservation } from "../../src/topology/index.js";
import { APP_USER, destroyConnection, MariaDBHarness, TEST_PASSWORDS, type MariaDBInstance } from "../helpers/mariadb.js";

const SUBNET = 1;
const CLUSTER = "db";
const h = new MariaDBHarness({ subnet: SUBNET });
const insts: MariaDBInstance[] = [];
const timings: Record<string, unknown> = {};

// repair.errant Manual: these servers run without agents, and the quarantine of errant instances
// is what this file checks (the automatic rebuild is test/e2e/rebuild.test.ts's).
let spec: MySQLClusterSpec = MySQLClusterSpecSchema.parse({ flavor: "mariadb", instances: 3, failover: { delaySeconds: 1 }, repair: { errant: "Manual" } });
let status: MySQLClusterStatus = {};
let clock = Date.parse("2030-01-01T00:00:00Z");

function cfg(d: Decision): OperationConfig {
  return {
    flavor: "mariadb",
    operator: { user: OPERATOR_USER, password: TEST_PASSWORDS.operator },
    replication: { user: REPLICATION_USER, password: TEST_PASSWORDS.replication },
    connectTimeoutMs: 500,
    queryTimeoutMs: 2000,
    catchUpTimeoutSeconds: 5,
    semiSync: d.semiSync,
  };
}

/** Probes like the hook: replicas first, the current primary last (hooks/mysqlcluster/observe.ts). */
async function observe(): Promise<InstanceObservation[]> {
  const primary = status.currentPrimary;
  const isPrimary = (i: { ordinal: number }) => `${CLUSTER}-${i.ordinal}` === primary;
  const others = await observeEach(insts.filter((i) => !isPrimary(i)));
  const last = await observeEach(insts.filter(isPrimary));
  return [...others, ...last].sort((a, b) => a.ordinal - b.ordinal);
}

async function observeEach(list: typeof insts): Promise<InstanceObservation[]> {
  return Promise.all(
    list.map(async (i) => {
      const probe = i.alive
        ? await readInstanceStatus({
            flavor: "mariadb",
            host: i.host,
            port: 3306,
            user: OPERATOR_USER,
            password: TEST_PASSWORDS.operator,
            connectTimeoutMs: 500,
            queryTimeoutMs: 1000,
            expectedServerId: i.serverId,
          })
        : { ok: false as const, error: "connection refused (process not running)" };
      return {
        name: `${CLUSTER}-${i.ordinal}`,
        ordinal: i.ordinal,
        podExists: true,
        podReady: probe.ok,
        terminating: false,
        podIP: i.host,
        probe,
      };
    }),
  );
}

/** One sync: observe, decide (at the simulated clock), act, keep the status on success. */
async function sync(advanceMs = 100): Promise<{ decision: Decision; result: OperationResult }> {
  clock += advanceMs;
  const decision = decide({ clusterName: CLUSTER, spec, previous: status, instances: await observe(), now: new Date(clock) });
  const byName = new Map(insts.map((i) => [`${CLUSTER}-${i.ordinal}`, i]));
  const result = await runOperation(cfg(decision), decision.operation, (n) => {
    const i = byName.get(n);
    return i ? { name: n, host: i.host } : undefined;
  });
  status = { ...status, ...decision.status };
  if (!decision.status.failingSince) delete status.failingSince;
  return { decision, result };
}

/**
 * Syncs until the decider chooses an operation of `type` (running whatever it chooses before,
 * e.g. a configureReplica under load), and returns that sync. Tests assert the operation the
 * cluster converges on, not that it comes in the very next sync.
 */
async function syncUntil(type: string, opts: { advanceMs?: number; max?: number } = {}): Promise<{ decision: Decision; result: OperationResult }> {
  const seen: string[] = [];
  for (let n = 0; n < (opts.max ?? 8); n++) {
    const out = await sync(opts.advanceMs);
    if (out.decision.operation.type === type) return out;
    seen.push(out.decision.operation.type);
  }
  throw new Error(`no ${type} within ${opts.max ?? 8} syncs (saw ${seen.join(", ")}): ${JSON.stringify(status)}`);
}

async function converge(max = 8): Promise<Decision> {
  for (let n = 0; n < max; n++) {
    const { decision } = await sync();
    if (decision.operation.type === "none") return decision;
  }
  throw new Error(`did not converge: ${JSON.stringify(status)}`);
}

async function app(i: MariaDBInstance): Promise<mysql.Connection> {
  return mysql.createConnection({ host: i.host, port: 3306, user: APP_USER, password: TEST_PASSWORDS.app, connectTimeout: 1000 });
}

async function count(i: MariaDBInstance, where = "1"): Promise<number> {
  const rows = await h.rootQuery(i, `SELECT COUNT(*) AS n FROM shop.t WHERE ${where}`);
  return Number(z.array(z.object({ n: z.union([z.number(), z.string()]) })).parse(rows)[0]?.n);
}

async function ids(i: MariaDBInstance): Promise<Set<number>> {
  const rows = await h.rootQuery(i, "SELECT id FROM shop.t");
  return new Set(
    z
      .array(z.object({ id: z.number() }))
      .parse(rows)
      .map((r) => r.id),
  );
}

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const inst = (n: number): MariaDBInstance => {
  const i = insts[n];
  if (!i) throw new Error(`no instance ${n}`);
  return i;
};
const byName = (name: string | undefined): MariaDBInstance => inst(Number(name?.split("-")[1]));
const role = (name: string) => status.instances?.find((s) => s.name === name)?.role;

beforeAll(async () => {
  const t0 = performance.now();
  insts.push(...(await Promise.all([0, 1, 2].map((n) => h.start(n)))));
  timings["start 3 instances ms"] = Math.round(performance.now() - t0);
}, 60_000);

afterAll(async () => {
  console.log("metamysql timings", JSON.stringify(timings, null, 1));
  await h.stopAll();
});

describe("mysql ops on real MariaDB", () => {
  it("bootstraps 3 instances into a Healthy cluster", async () => {
    const first = await sync();
    expect(first.decision.operation).toMatchObject({ type: "bootstrap", target: "db-0" });
    const d = await converge();
    expect(d.status.state).toBe("Healthy");
    expect(status.currentPrimary).toBe("db-0");
    expect(d.readOnlyEndpoints.map((e) => e.name)).toEqual(["db-1", "db-2"]);
  });

  it("replicates writes from the primary, and refuses non-admin writes on replicas", async () => {
    const c = await app(inst(0));
    try {
      await c.query("CREATE DATABASE shop");
      await c.query("CREATE TABLE shop.t (id INT PRIMARY KEY, src VARCHAR(10))");
      for (let n = 1; n <= 10; n++) await c.query("INSERT INTO shop.t VALUES (?, 'init')", [n]);
    } finally {
      destroyConnection(c);
    }
    await waitFor("replicas to apply", async () => (await count(inst(1))) === 10 && (await count(inst(2))) === 10);
    const r = await app(inst(1));
    try {
      await expect(r.query("INSERT INTO shop.t VALUES (1000, 'replica')")).rejects.toMatchObject({ errno: 1290 });
    } finally {
      destroyConnection(r);
    }
  });

  it("switches over by weight under a writer without losing acknowledged rows", async () => {
    let target = inst(0);
    let stop = false;
    let next = 100;
    const acked: number[] = [];
    let lastOld = 0;
    let firstNew = 0;
    const writer = (async () => {
      let conn: mysql.Connection | undefined;
      while (!stop) {
        const id = next++;
        try {
          conn ??= await app(target);
          const on = target;
          await conn.query({ sql: "INSERT INTO shop.t VALUES (?, 'writer')", timeout: 2000 }, [id]);
          acked.push(id);
          if (on === inst(0)) lastOld = performance.now();
          else if (!firstNew) firstNew = performance.now();
        } catch {
          if (conn) destroyConnection(conn);
          conn = undefined;
          await new Promise((r) => setTimeout(r, 2));
        }
      }
      if (conn) destroyConnection(conn);
    })();
    await new Promise((r) => setTimeout(r, 300));
    spec = MySQLClusterSpecSchema.parse({ ...spec, memberWeights: { "1": 100 } });
    const { decision, result } = await sync();
    expect(decision.operation).toMatchObject({ type: "switchover", from: "db-0", to: "db-1" });
    expect(result.warnings).toEqual([]);
    target = inst(1); // the read-write Service follows status.currentPrimary
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await writer;
    timings["switchover steps ms"] = result.steps;
    timings["switchover write gap ms"] = Math.round(firstNew - lastOld);
    expect(status.currentPrimary).toBe("db-1");
    const have = await ids(inst(1));
    expect(acked.filter((id) => !have.has(id))).toEqual([]);
    expect(acked.length).toBeGreaterThan(20);
    const d = await converge();
    expect(d.status.state).toBe("Healthy");
    await waitFor("old primary to catch up", async () => (await ids(inst(0))).size === have.size);
  });

  it("fails over after SIGKILL to the replica that RECEIVED the most, applying its relay log", async () => {
    // db-0 stops receiving after row 2000; db-2 keeps receiving but stops applying.
    const c = await app(inst(1));
    await h.rootQuery(inst(2), "STOP SLAVE SQL_THREAD");
    try {
      for (let n = 2000; n < 2010; n++) await c.query("INSERT INTO shop.t VALUES (?, 'a')", [n]);
      await waitFor("db-0 to apply", async () => (await count(inst(0), "id >= 2000")) === 10);
      await h.rootQuery(inst(0), "STOP SLAVE IO_THREAD");
      for (let n = 2010; n < 2030; n++) await c.query("INSERT INTO shop.t VALUES (?, 'b')", [n]);
    } finally {
      destroyConnection(c);
    }
    expect(await count(inst(0), "id >= 2000")).toBe(10); // applied most
    expect(await count(inst(2), "id >= 2000")).toBe(0); // received most
    const t0 = performance.now();
    await h.kill(inst(1));
    const first = await sync();
    expect(first.decision.status.state).toBe("Failed");
    expect(first.decision.operation.type).toBe("none");
    const t1 = performance.now();
    const { decision, result } = await syncUntil("failover", { advanceMs: 1500 });
    expect(decision.operation).toMatchObject({ type: "failover", from: "db-1", to: "db-2" });
    timings["failover SQL ms (after delay)"] = Math.round(performance.now() - t1);
    timings["failover steps ms"] = result.steps;
    timings["kill to promoted ms (excluding failover.delaySeconds)"] = Math.round(performance.now() - t0);
    expect(status.currentPrimary).toBe("db-2");
    expect(await count(inst(2), "id >= 2000")).toBe(30);
    await waitFor("db-0 to catch up from db-2", async () => (await count(inst(0), "id >= 2000")) === 30);
    const w = await app(inst(2));
    try {
      await w.query("INSERT INTO shop.t VALUES (3000, 'new')");
    } finally {
      destroyConnection(w);
    }
  });

  it("rejoins the old primary when it is a subset, then switches back to it by weight", async () => {
    insts[1] = await h.start(1);
    const { decision } = await syncUntil("rejoin");
    expect(decision.operation).toMatchObject({ type: "rejoin", target: "db-1", source: "db-2" });
    const next = await syncUntil("switchover");
    expect(next.decision.operation).toMatchObject({ type: "switchover", from: "db-2", to: "db-1" }); // weight 100
    const d = await converge();
    expect(d.status.state).toBe("Healthy");
    expect(status.currentPrimary).toBe("db-1");
    expect(role("db-2")).toBe("replica");
    await waitFor("db-0 to receive row 3000", async () => (await count(inst(0), "id = 3000")) === 1);
  });

  it("keeps a diverged old primary out (errant), never rejoined", async () => {
    // Nobody receives the last write of the primary: it is binlogged, never acknowledged.
    const p = byName(status.currentPrimary);
    const replicas = insts.filter((i) => i !== p);
    for (const r of replicas) await h.rootQuery(r, "STOP SLAVE IO_THREAD");
    const c = await app(p);
    const pending = c.query({ sql: "INSERT INTO shop.t VALUES (4000, 'lost')", timeout: 60_000 }).catch(() => undefined);
    await waitFor("the write to wait for an ack", async () => {
      const rows = await h.rootQuery(p, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_wait_sessions'");
      return z.array(z.object({ Value: z.string() })).parse(rows)[0]?.Value === "1";
    });
    await h.kill(p);
    destroyConnection(c);
    await Promise.race([pending, new Promise((r) => setTimeout(r, 2000))]);
    const { decision } = await syncUntil("failover", { advanceMs: 1500 });
    expect(decision.operation).toMatchObject({ type: "failover", from: `db-${p.ordinal}`, to: "db-0" }); // equal received, lowest ordinal
    await converge();
    insts[p.ordinal] = await h.start(p.ordinal);
    const d = await converge();
    const back = d.status.instances.find((i) => i.name === `db-${p.ordinal}`);
    expect(back?.role).toBe("errant");
    expect(back?.errantTransactions).toMatch(new RegExp(`^0-${p.serverId}-\\d+$`));
    expect(d.readOnlyEndpoints.map((e) => e.name)).not.toContain(`db-${p.ordinal}`);
    expect(d.status.state).toBe("Degraded");
    expect(await count(inst(0), "id = 4000")).toBe(0);
  });

  it("detects an errant write on a replica and never promotes it", async () => {
    const p = byName(status.currentPrimary);
    const healthy = insts.find((i) => i !== p && role(`db-${i.ordinal}`) === "replica");
    if (!healthy) throw new Error("no healthy replica left");
    await h.rootQuery(healthy, "INSERT INTO shop.t VALUES (5000, 'errant')"); // root bypasses read_only on 10.11
    const { decision } = await sync();
    const s = decision.status.instances.find((i) => i.name === `db-${healthy.ordinal}`);
    expect(s?.role).toBe("errant");
    expect(s?.errantTransactions).toMatch(new RegExp(`^0-${healthy.serverId}-\\d+$`));
    expect(decision.readOnlyEndpoints).toEqual([{ name: `db-${p.ordinal}`, ip: p.host }]); // the primary when no replica
    // Primary dies: every other instance is errant, so nothing is promoted.
    await h.kill(p);
    await sync();
    const lost = await sync(1500);
    expect(lost.decision.operation.type).toBe("none");
    expect(lost.decision.status.state).toBe("Lost");
    timings["lost message"] = lost.decision.status.message;
    insts[p.ordinal] = await h.start(p.ordinal);
    expect((await converge()).status.currentPrimary).toBe(`db-${p.ordinal}`);
  });

  it("returns an error within the timeout for a SIGSTOPped instance, and the process exits", async () => {
    const i = byName(status.currentPrimary);
    h.signal(i, "SIGSTOP");
    try {
      const t0 = performance.now();
      const r = await readInstanceStatus({
        flavor: "mariadb",
        host: i.host,
        port: 3306,
        user: OPERATOR_USER,
        password: TEST_PASSWORDS.operator,
        connectTimeoutMs: 500,
        queryTimeoutMs: 500,
      });
      const ms = performance.now() - t0;
      timings["probe of SIGSTOPped server ms"] = Math.round(ms);
      expect(r.ok).toBe(false);
      // Bounded by the 500 ms timeouts, never by the hung server (a wide bound: CPU load may
      // stretch the timers; the figure itself is in the timings table, not asserted).
      expect(ms).toBeLessThan(10_000);
      // A separate process probing the hung server must exit on its own.
      const script = `import { readInstanceStatus } from "./src/mysql/observe.ts";
const r = await readInstanceStatus({ flavor: "mariadb", host: "${i.host}", port: 3306, user: "x", password: "y", connectTimeoutMs: 300, queryTimeoutMs: 300 });
console.log(JSON.stringify(r));`;
      const t1 = performance.now();
      const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
          cwd: process.cwd(),
          stdio: ["ignore", "pipe", "inherit"],
        });
        let stdout = "";
        child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
        const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        child.on("exit", (code) => {
          clearTimeout(killer);
          resolve({ code, stdout });
        });
      });
      timings["child process probing hung server exited after ms"] = Math.round(performance.now() - t1);
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ ok: false });
      const d = await sync();
      expect(d.decision.status.state).toBe("Failed");
    } finally {
      h.signal(i, "SIGCONT");
    }
    const back = await readInstanceStatus({ flavor: "mariadb", host: i.host, port: 3306, user: OPERATOR_USER, password: TEST_PASSWORDS.operator });
    expect(back.ok).toBe(true);
    expect((await sync()).decision.status.currentPrimary).toBe(`db-${i.ordinal}`);
  });
});
