/**
 * High availability end to end (issue 4), through the local runtime with real mariadbd: one
 * 3-instance cluster shared by the steps of this file, in order: bootstrap, a crash within the
 * failover delay, a weight-triggered switchover, 10 SIGKILL failovers under a steady writer, two
 * concurrent syncs during a failover, and last (the old primary may come back errant) a hung
 * (SIGSTOPped) primary. Pod IPs 127.30.1.0/24. The errant, pod-deletion and scaling cases are in
 * ha-switchover.test.ts.
 *
 * CrashLoopBackOff is shortened to 3 s (first restart immediate, as in Kubernetes): every
 * restart after a pod's first crash then takes longer than `failover.delaySeconds: 2`, so a
 * killed primary stays down past the delay and is failed over; a first crash restarts at once
 * and is reopened instead (the delay exists for that).
 */
import { destination, pino } from "pino";
import type { RowDataPacket } from "mysql2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startHookServer } from "../../src/server/app.js";
import { APP_PASSWORD, APP_USER, HaCluster, Writer, clusterManifest, haStateDir, settleOldPrimary, sleep } from "../helpers/ha.js";
import { HookInterposer, eventually, finishStateDir, leftoverPids, query, startTestRuntime } from "../helpers/local.js";

const NAME = "shop";
let hooks: { url: string; close(): Promise<void> };
let interposer: HookInterposer;
let c: HaCluster;
let writer: Writer | undefined;
/** A failed test keeps the state dir (events, server logs) for reading afterwards. */
let failed = false;
beforeEach(({ onTestFailed }) => onTestFailed(() => void (failed = true)));

async function readOnly(name: string): Promise<number> {
  const rows = await query<{ ro: number } & RowDataPacket>(c.pod(name), "SELECT @@read_only AS ro", 2000);
  return Number(rows[0]?.ro);
}

/** Names of the instances that answer and are writable right now. */
async function writable(): Promise<string[]> {
  const out: string[] = [];
  await Promise.all(
    c.rt.status().pods.map(async (p) => {
      const ro = await readOnly(p.name).catch(() => 1);
      if (ro === 0) out.push(p.name);
    }),
  );
  return out.sort();
}

async function expectNothingLost(primary: string, w: Writer): Promise<void> {
  const upTo = Date.now();
  const ids = await c.idsOn(primary);
  expect(w.lost(ids, upTo)).toEqual([]);
}

beforeAll(async () => {
  hooks = await startHookServer({
    port: 0,
    host: "127.0.0.1",
    logLevel: process.env.LOCAL_TEST_VERBOSE ? "info" : "silent",
    ...(process.env.LOCAL_TEST_VERBOSE ? { logger: pino({ level: "info" }, destination({ dest: "/tmp/ha-failover-hooks.log", sync: true })) } : {}),
  });
  interposer = new HookInterposer(hooks.url);
  await interposer.start();
  const t = await startTestRuntime({
    hookUrl: interposer.url,
    ipPrefix: "127.30.1",
    stateDir: haStateDir(),
    hookTimeoutMs: 10_000,
    resyncPeriodSeconds: 10,
    crashLoopBaseMs: 3000,
    crashLoopMaxMs: 3000,
  });
  c = new HaCluster(t, NAME);
}, 60_000);

afterAll(async () => {
  await writer?.stop();
  await c?.rt.stop();
  await interposer?.close();
  await hooks?.close();
  if (c) {
    expect(leftoverPids(c.t.stateDir)).toEqual([]);
    finishStateDir(c.t.stateDir, failed);
  }
}, 120_000);

describe("high availability: failover (MariaDB, local runtime)", () => {
  it("bootstraps one writable primary and two read-only replicas; replicas refuse application writes and receive 1,000 rows", async () => {
    await c.rt.apply(clusterManifest(NAME, { failover: { delaySeconds: 2 } }));
    await c.waitHealthy(120_000, 3);
    c.password = c.rt.credentials()?.password ?? "";
    await c.createApp();
    expect(c.primary()).toBe(`${NAME}-0`);
    expect(await writable()).toEqual([`${NAME}-0`]);
    for (const r of [`${NAME}-1`, `${NAME}-2`]) {
      expect(await readOnly(r)).toBe(1);
      // The application account has no READ_ONLY ADMIN: read_only refuses its write.
      await eventually(async () => (await c.idsOn(r)) !== undefined, 10_000, "app schema on the replica");
      await expect(query({ ...c.pod(r), user: APP_USER, password: APP_PASSWORD }, "INSERT INTO app.w (id, at) VALUES (-1, 0)")).rejects.toThrow(
        /read-only|READ.ONLY/i,
      );
    }
    const rw = { ...c.service(), user: APP_USER, password: APP_PASSWORD };
    for (let i = 0; i < 1000; i += 100) {
      const values = Array.from({ length: 100 }, (_, k) => `(${1_000_000 + i + k}, 0)`).join(",");
      await query(rw, `INSERT INTO app.w (id, at) VALUES ${values}`);
    }
    for (const r of [`${NAME}-1`, `${NAME}-2`]) {
      await eventually(async () => [...(await c.idsOn(r))].filter((id) => id >= 1_000_000).length === 1000, 20_000, `1,000 rows on ${r}`);
      await expect(query({ ...c.pod(r), user: APP_USER, password: APP_PASSWORD }, "DELETE FROM app.w")).rejects.toThrow(/read-only|READ.ONLY/i);
    }
  }, 180_000);

  it("a primary that crashes and restarts within the delay is reopened only if it holds all its replicas received, else failed over after the delay; no acknowledged write lost", async () => {
    await c.applySpec({ failover: { delaySeconds: 15 } });
    writer = new Writer(() => c.service()).start();
    await writer.waitForAcks(100, 20_000);
    // First crash of each pod: restarted at once (CrashLoopBackOff starts at the second).
    for (const r of [`${NAME}-1`, `${NAME}-2`]) c.rt.kill(r, "KILL");
    await eventually(() => c.rt.kubelet.pods().every((p) => p.name === `${NAME}-0` || (p.restarts === 1 && p.ready)), 30_000, "replicas restarted");
    await c.waitHealthy(60_000, 3);
    const killedAt = Date.now();
    c.rt.kill(`${NAME}-0`, "KILL");
    await writer.waitForAcks(100, 30_000);
    await c.waitHealthy(60_000, 3);
    // Crash recovery of a semi-sync instance (init_rpl_role=SLAVE) truncates binlog events no
    // replica acknowledged. If a replica had already received such an event, the restarted primary
    // lacks it and must not be reopened: it is failed over once the delay has passed. Otherwise it
    // is reopened at once. Either way no acknowledged write is lost and there is one primary.
    const last = c.status().lastOperation;
    if (c.primary() === `${NAME}-0`) {
      expect(last?.type).toBe("Bootstrap");
    } else {
      // The failover, then (as its last operation) the old primary's rejoin as a replica.
      expect(["Failover", "Rejoin"]).toContain(last?.type);
      if (last?.type === "Failover") expect(Date.parse(last.time ?? "")).toBeGreaterThanOrEqual(killedAt + 15_000 - 1000);
      else expect(last).toMatchObject({ type: "Rejoin", from: `${NAME}-0`, to: c.primary() });
    }
    process.stderr.write(
      `crash within the delay: write gap ${writer.gap(killedAt, Date.now()).ms} ms (${c.primary() === `${NAME}-0` ? "reopened" : "failed over"})\n`,
    );
    await expectNothingLost(c.primary(), writer);
    expect(await writable()).toEqual([c.primary()]);
  }, 120_000);

  it("moves the primary to the highest-weight instance when weights change; the old primary replicates", async () => {
    const from = c.primary();
    const to = from === `${NAME}-1` ? `${NAME}-2` : `${NAME}-1`;
    await c.applySpec({ failover: { delaySeconds: 2 }, memberWeights: { [to.slice(NAME.length + 1)]: 90 } });
    await eventually(() => c.primary() === to && c.status().state === "Healthy", 30_000, `${to} primary and Healthy`);
    expect(c.status().lastOperation).toMatchObject({ type: "Switchover", from, to });
    expect(await writable()).toEqual([to]);
    const rows = await query<{ Master_Host: string; Slave_IO_Running: string; Slave_SQL_Running: string } & RowDataPacket>(c.pod(from), "SHOW SLAVE STATUS");
    expect(rows[0]).toMatchObject({ Master_Host: c.pod(to).host, Slave_SQL_Running: "Yes" });
    await writer?.waitForAcks(100, 20_000);
    if (writer) await expectNothingLost(to, writer);
    await c.applySpec({ memberWeights: {} });
  }, 60_000);

  it("on SIGKILL of the primary, 10 times in a row: fails over after the delay (or reopens a primary back first), losing no acknowledged write; each old primary rejoins read-only or, holding only its unacknowledged tail, is rebuilt after that tail is saved", async () => {
    const w = writer as Writer;
    const delayMs = 2000;
    const gaps: number[] = [];
    const outcomes: string[] = [];
    for (let run = 1; run <= 10; run++) {
      await c.waitHealthy(60_000, 3);
      await w.waitForAcks(50, 20_000);
      const old = c.primary();
      const restarts = c.rt.kubelet.pods().find((p) => p.name === old)?.restarts ?? 0;
      const killedAt = Date.now();
      c.rt.kill(old, "KILL");
      // A failover after the delay; or, when the restarted primary is back (after the 3 s
      // back-off) before a sync could fail over (a CPU-starved sync), it is rightly reopened.
      await eventually(
        () => c.primary() !== old || (c.status().state === "Healthy" && (c.rt.kubelet.pods().find((p) => p.name === old)?.restarts ?? 0) > restarts),
        30_000,
        `failover away from ${old}, or ${old} reopened (run ${run})`,
      );
      await w.waitForAcks(50, 20_000);
      gaps.push(w.gap(killedAt, Date.now()).ms);
      await expectNothingLost(c.primary(), w);
      if (c.primary() === old) {
        outcomes.push("reopened");
        expect(await writable()).toEqual([old]);
        continue;
      }
      const last = c.status().lastOperation;
      expect(["Failover", "Rejoin"]).toContain(last?.type);
      if (last?.type === "Failover") {
        expect(last).toMatchObject({ from: old });
        // The reason names when the primary was first seen down (status.failingSince then).
        const failingSince = Date.parse(/unavailable since (\S+Z)/.exec(last.reason ?? "")?.[1] ?? "");
        expect(Number.isNaN(failingSince)).toBe(false);
        expect(Date.parse(last.time ?? "")).toBeGreaterThanOrEqual(failingSince + delayMs);
      }
      // The old primary restarts (after the back-off): a read-only replica again, or errant by its
      // own unacknowledged tail (checked, then re-seeded as a user would; issue 12 automates it).
      outcomes.push(await settleOldPrimary(c, old, w));
      expect(await readOnly(old)).toBe(1);
      expect(await writable()).toEqual([c.primary()]);
    }
    process.stderr.write(`SIGKILLs: outcomes ${outcomes.join(", ")}; write gaps ${gaps.join(", ")} ms\n`);
  }, 600_000);

  it("keeps exactly one primary when two syncs are posted at the same time during a failover", async () => {
    const w = writer as Writer;
    await c.waitHealthy(60_000, 3);
    const old = c.primary();
    c.rt.kill(old, "KILL");
    // Capture the runtime's next sync request of the failed cluster, then stop its syncs.
    const from = interposer.calls.length;
    const captured = await eventually(
      () =>
        interposer.calls
          .slice(from)
          .find((x) => x.path.endsWith("/sync") && (x.response as { status?: { state?: string } } | undefined)?.status?.state === "Failed"),
      20_000,
      "a Failed sync",
    );
    interposer.mode = "hang";
    const failingSince = Date.parse((captured.response as { status: { failingSince: string } }).status.failingSince);
    const request = structuredClone(captured.request) as { parent: { status: Record<string, unknown> } };
    request.parent.status = (captured.response as { status: Record<string, unknown> }).status;
    await sleep(Math.max(0, failingSince + 2100 - Date.now()));
    const post = async (): Promise<{ status: number; body: { status?: { currentPrimary?: string } } | string }> => {
      const res = await fetch(`${hooks.url}/hooks/mysqlcluster/sync`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(request),
      });
      const text = await res.text();
      return { status: res.status, body: res.status === 200 ? (JSON.parse(text) as { status?: { currentPrimary?: string } }) : text };
    };
    // Sample every instance's read_only while the two syncs run: never two writable at once.
    let sampling = true;
    let maxWritable = 0;
    const sampler = (async () => {
      while (sampling) {
        maxWritable = Math.max(maxWritable, (await writable()).length);
        await sleep(10);
      }
    })();
    try {
      const [a, b] = await Promise.all([post(), post()]);
      sampling = false;
      await sampler;
      expect(maxWritable).toBeLessThanOrEqual(1);
      // Both decided from the same observation of a dead primary: whichever promoted, the other
      // either promoted the same replica (deterministic choice) or found it already writable and,
      // its request naming the old primary, fenced it: never two writable instances.
      const answers = [a, b].flatMap((r) =>
        r.status === 200 && typeof r.body !== "string" ? [r.body.status as { state?: string; currentPrimary?: string }] : [],
      );
      const opened = answers.filter((st) => st.state === "Healthy" || st.state === "Degraded").map((st) => st.currentPrimary);
      expect(new Set(opened).size).toBeLessThanOrEqual(1);
      expect((await writable()).length).toBeLessThanOrEqual(1);
      process.stderr.write(
        `overlapping syncs answered ${[a, b].map((r) => (typeof r.body === "string" ? `${r.status} ${r.body.slice(0, 120)}` : `${r.status} ${r.body.status?.currentPrimary}`)).join(" | ")}\n`,
      );
    } finally {
      sampling = false;
      interposer.mode = "pass";
    }
    // Then the runtime's own syncs converge: on the replica both chose, or on the old primary if
    // it came back first (the promoted replica having been fenced by the other sync).
    await eventually(
      async () => {
        const wr = await writable();
        return wr.length === 1 && wr[0] === c.primary() && c.status().state === "Healthy";
      },
      60_000,
      "one primary after the overlapping failover",
    );
    await w.waitForAcks(50, 30_000);
    await expectNothingLost(c.primary(), w);
    await eventually(async () => (await writable()).length === 1, 5_000, "still one writable instance");
  }, 150_000);

  it("a killed primary holding a commit no replica received comes back errant by that tail alone: never reopened or rejoined, nothing acknowledged lost, its tail saved and the instance rebuilt automatically, Healthy again (issues 16, 12)", async () => {
    const w = writer as Writer;
    await c.waitHealthy(60_000, 3);
    await w.waitForAcks(50, 20_000);
    const old = c.primary();
    const replicas = c.rt
      .status()
      .pods.map((p) => p.name)
      .filter((n) => n !== old);
    const posBefore = String((await query<{ p: string } & RowDataPacket>(c.pod(old), "SELECT @@gtid_binlog_pos AS p"))[0]?.p);
    // The operator must not restart replication meanwhile: its syncs are held, then the replicas'
    // receivers stopped. A commit on the primary is then binlogged but reaches no replica: it
    // waits for a semi-sync acknowledgement that cannot come, and its client never hears OK.
    interposer.mode = "hang";
    let tailId = 0;
    try {
      for (const r of replicas) await query(c.pod(r), "STOP SLAVE IO_THREAD");
      tailId = 9_000_000 + Math.floor(Math.random() * 100_000);
      const pending = query(c.pod(old), `INSERT INTO app.w (id, at) VALUES (${tailId}, 0)`, 60_000).catch(() => undefined);
      await eventually(
        async () => String((await query<{ p: string } & RowDataPacket>(c.pod(old), "SELECT @@gtid_binlog_pos AS p"))[0]?.p) !== posBefore,
        10_000,
        "the unacknowledged commit in the primary's binary log",
      );
      c.rt.kill(old, "KILL");
      await pending;
    } finally {
      interposer.mode = "pass";
    }
    await eventually(() => c.primary() !== old, 60_000, `failover away from ${old}`);
    expect(w.acks.some((a) => a.id === tailId)).toBe(false);
    // Crash recovery commits the binlogged transaction: errant by its own server_id only, checked
    // by settleOldPrimary, then saved and rebuilt by the operator; the cluster is Healthy again.
    expect(await settleOldPrimary(c, old, w)).toBe("errant-tail");
    await w.waitForAcks(50, 20_000);
    await expectNothingLost(c.primary(), w);
    expect(await writable()).toEqual([c.primary()]);
    expect(await c.idsOn(old)).not.toContain(tailId);
  }, 300_000);

  it("fails over from a hung (SIGSTOP) primary while syncs keep answering in time; after CONT the old primary is fenced, never writable through the operator", async () => {
    const w = writer as Writer;
    await c.waitHealthy(60_000, 3);
    const old = c.primary();
    const callsBefore = interposer.calls.length;
    const stoppedAt = Date.now();
    c.rt.kill(old, "STOP");
    try {
      await eventually(() => c.primary() !== old, 60_000, `failover away from hung ${old}`);
      expect(c.status().lastOperation).toMatchObject({ type: "Failover", from: old });
      await w.waitForAcks(50, 20_000);
      process.stderr.write(`SIGSTOP failover: write gap ${w.gap(stoppedAt, Date.now()).ms} ms\n`);
      // Every sync answered 200 well inside the webhook timeout, although one server hangs.
      const syncs = interposer.calls.slice(callsBefore).filter((x) => x.path.endsWith("/sync"));
      await eventually(() => syncs.every((x) => x.doneAt !== undefined), 10_000, "syncs in flight to answer");
      expect(syncs.length).toBeGreaterThan(0);
      const slow = syncs.filter((x) => x.status !== 200 || (x.doneAt ?? Infinity) - x.at > 8000);
      expect(slow.map((x) => ({ at: x.at - stoppedAt, ms: (x.doneAt ?? 0) - x.at, status: x.status }))).toEqual([]);
      process.stderr.write(`SIGSTOP: sync durations ${syncs.map((x) => (x.doneAt ?? 0) - x.at).join(", ")} ms\n`);
    } finally {
      c.rt.kill(old, "CONT");
    }
    // Fenced by the next sync (invariant 1), then rejoined or reported errant; never primary.
    await eventually(async () => (await readOnly(old)) === 1, 20_000, `${old} read-only after CONT`);
    await eventually(
      () => {
        const s = (c.status().instances ?? []).find((i) => i.name === old);
        return s && ((s.role === "replica" && !s.message) || (s.role === "errant" && !!s.errantTransactions));
      },
      30_000,
      `${old} rejoined or reported`,
    );
    expect(c.primary()).not.toBe(old);
    expect(await writable()).toEqual([c.primary()]);
    await w.waitForAcks(50, 20_000);
    await expectNothingLost(c.primary(), w);
  }, 150_000);
});
