/**
 * High availability end to end (issue 4), planned changes and quarantine, through the local
 * runtime with real mariadbd and a steady writer through `<c>`: deleting the primary's pod
 * (switchover while its preStop hook waits), scaling 3 -> 5 -> 3 with a scale-down that removes
 * the primary, and last (it leaves an instance errant) an errant write on a replica followed by
 * the primary's death. One cluster for the whole file; pod IPs 127.30.2.0/24.
 */
import type { RowDataPacket } from "mysql2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type HaCluster, Writer, startHaCluster } from "../helpers/ha.js";
import { eventually, finishStateDir, leftoverPids, query } from "../helpers/local.js";

const NAME = "shop";
let c: HaCluster;
let w: Writer;
/** A failed test keeps the state dir (events, server logs) for reading afterwards. */
let failed = false;
beforeEach(({ onTestFailed }) => onTestFailed(() => void (failed = true)));

async function readOnly(name: string): Promise<number> {
  const rows = await query<{ ro: number } & RowDataPacket>(c.pod(name), "SELECT @@read_only AS ro", 2000);
  return Number(rows[0]?.ro);
}

async function expectNothingLost(): Promise<void> {
  const upTo = Date.now();
  const ids = await c.idsOn(c.primary());
  expect(w.lost(ids, upTo)).toEqual([]);
}

function eventAt(source: string, pattern: RegExp, after = 0): number {
  return c.t.events.findIndex((e, i) => i >= after && e.source === source && pattern.test(e.message));
}

beforeAll(async () => {
  // CrashLoopBackOff 3 s: a pod killed twice stays down longer than the 2 s failover delay.
  c = await startHaCluster({ ipPrefix: "127.30.2", name: NAME, spec: { failover: { delaySeconds: 2 } }, crashLoopBaseMs: 3000, crashLoopMaxMs: 3000 });
  w = new Writer(() => c.service()).start();
  await w.waitForAcks(100, 20_000);
}, 150_000);

afterAll(async () => {
  await w?.stop();
  await c?.rt.stop();
  if (c) {
    expect(leftoverPids(c.t.stateDir)).toEqual([]);
    finishStateDir(c.t.stateDir, failed);
  }
}, 120_000);

describe("high availability: planned switchovers and quarantine (MariaDB, local runtime)", () => {
  it("switches over before a deleted (terminating) primary pod stops, losing no acknowledged write", async () => {
    const old = c.primary();
    const from = c.t.events.length;
    const deletedAt = Date.now();
    c.rt.deletePod(old);
    await eventually(() => c.primary() !== old, 30_000, `switchover away from terminating ${old}`);
    expect(c.status().lastOperation).toMatchObject({ type: "Switchover", from: old });
    expect(c.status().lastOperation?.reason).toMatch(/terminating/);
    await w.waitForAcks(50, 20_000);
    process.stderr.write(`pod deletion switchover: write gap ${w.gap(deletedAt, Date.now()).ms} ms\n`);
    // The server stopped only after the switchover: the primary changed, then the pod went away.
    await eventually(() => eventAt(`pod ${old}`, /stopped and removed/, from) >= 0, 60_000, `${old} removed`);
    const switched = eventAt(`cluster ${NAME}`, /primary is now/, from);
    expect(switched).toBeGreaterThanOrEqual(0);
    expect(switched).toBeLessThan(eventAt(`pod ${old}`, /stopped and removed/, from));
    // Re-created by the StatefulSet with the same name and data, it rejoins as a replica.
    await c.waitHealthy(90_000, 3);
    expect(await readOnly(old)).toBe(1);
    await expectNothingLost();
  }, 150_000);

  it("scales 3 -> 5 -> 3 while writing; a scale-down that removes the primary switches over first", async () => {
    await c.applySpec({ instances: 5 });
    await c.waitHealthy(120_000, 5);
    await c.applySpec({ memberWeights: { "4": 90 } });
    await eventually(() => c.primary() === `${NAME}-4` && c.status().state === "Healthy", 30_000, "shop-4 primary");
    await w.waitForAcks(50, 20_000);
    const from = c.t.events.length;
    await c.applySpec({ instances: 3, memberWeights: {} });
    await eventually(() => c.primary() !== `${NAME}-4`, 30_000, "switchover away from shop-4");
    expect(c.status().lastOperation?.reason).toMatch(/scale-down/);
    await c.waitHealthy(120_000, 3);
    expect(c.rt.status().pods.map((p) => p.name)).toEqual([`${NAME}-0`, `${NAME}-1`, `${NAME}-2`]);
    // The switchover ran inside the sync that also lowered the StatefulSet's replicas: the
    // StatefulSet only shrank (deleting shop-4) after that sync's operation had completed.
    const last = c.status().lastOperation;
    expect(last).toMatchObject({ type: "Switchover", from: `${NAME}-4` });
    const deleted = c.t.events[eventAt(`statefulset ${NAME}`, /delete Pod shop-4 /, from)];
    expect(deleted).toBeDefined();
    expect(Date.parse(last?.time ?? "")).toBeLessThanOrEqual(deleted?.time.getTime() ?? 0);
    await w.waitForAcks(50, 20_000);
    await expectNothingLost();
  }, 400_000);

  it("detects an errant write on a replica, reports it, keeps it out of <c>-ro and never promotes it, even when the primary dies", async () => {
    const primary = c.primary();
    const [replica, other] = [0, 1, 2].map((i) => `${NAME}-${i}`).filter((n) => n !== primary) as [string, string];
    // An administrator writes on a replica (root has READ_ONLY ADMIN): an errant transaction.
    await query(c.pod(replica), "CREATE DATABASE IF NOT EXISTS errant_by_admin");
    await eventually(() => (c.status().instances ?? []).find((i) => i.name === replica)?.role === "errant", 30_000, `${replica} reported errant`);
    expect((c.status().instances ?? []).find((i) => i.name === replica)?.errantTransactions).toMatch(/^0-1\d\d-\d+$/);
    expect(c.status().state).toBe("Degraded");
    const ro = () =>
      (
        (c.rt.store.get("discovery.k8s.io/v1", "EndpointSlice", "default", `${NAME}-ro`) as { endpoints?: Array<{ addresses: string[] }> }).endpoints ?? []
      ).flatMap((e) => e.addresses);
    expect(ro()).not.toContain(c.pod(replica).host);
    // Quarantined: its receiver is stopped, so it can no longer acknowledge commits.
    await eventually(
      async () => {
        const rows = await query<{ Slave_IO_Running: string } & RowDataPacket>(c.pod(replica), "SHOW SLAVE STATUS");
        return rows[0]?.Slave_IO_Running === "No";
      },
      20_000,
      `${replica} receiver stopped`,
    );
    await w.waitForAcks(50, 20_000);

    // The primary dies (crashes, restarts, crashes again: CrashLoopBackOff keeps it down).
    const pid = c.rt.status().pods.find((p) => p.name === primary)?.pid;
    c.rt.kill(primary, "KILL");
    await eventually(
      () => {
        const p = c.rt.status().pods.find((x) => x.name === primary);
        return p?.pid && p.pid !== pid;
      },
      10_000,
      `${primary} restarted`,
    );
    c.rt.kill(primary, "KILL");
    await eventually(() => c.primary() !== primary, 30_000, `failover away from ${primary}`);
    expect(c.primary()).toBe(other);
    expect(c.status().lastOperation).toMatchObject({ type: "Failover", from: primary, to: other });
    await w.waitForAcks(50, 30_000);
    await expectNothingLost();
    // Still errant, read-only, out of <c>-ro once the old primary is back as a replica.
    await eventually(() => (c.status().instances ?? []).find((i) => i.name === primary)?.role === "replica", 60_000, `${primary} rejoined`);
    const errant = (c.status().instances ?? []).find((i) => i.name === replica);
    expect(errant?.role).toBe("errant");
    expect(errant?.errantTransactions).toMatch(/^0-1\d\d-\d+$/);
    expect(await readOnly(replica)).toBe(1);
    expect(ro()).not.toContain(c.pod(replica).host);
    expect(c.primary()).toBe(other);
  }, 150_000);
});
