/**
 * Supervised rolling updates end to end (issue 12, ARCHITECTURE.md section 5 invariant 7,
 * docs/clustering.md "Rolling updates"): through the local runtime with real mariadbd and a
 * steady writer through `<c>`, a `mysqlConfig` change replaces every pod one at a time, each only
 * while the cluster is Healthy, the primary's pod last and only after a switchover, losing no
 * acknowledged write. Once with the primary on ordinal 0 (updated last anyway) and once on the
 * highest ordinal (which a partition updates first: the primary moves off it before anything is
 * replaced). One cluster for the file; pod IPs 127.20.60.0/24.
 */
import type { RowDataPacket } from "mysql2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type HaCluster, Writer, startHaCluster } from "../helpers/ha.js";
import { eventually, finishStateDir, leftoverPids, query } from "../helpers/local.js";
import { type PodDeletion, recordPodDeletions, rolloutCondition, rolloutFinished, updateRevision } from "../helpers/rollout.js";

const NAME = "shop";
const N = 3;
let c: HaCluster;
let w: Writer;
let failed = false;
beforeEach(({ onTestFailed }) => onTestFailed(() => void (failed = true)));

beforeAll(async () => {
  c = await startHaCluster({ ipPrefix: "127.20.60", name: NAME, spec: { failover: { delaySeconds: 2 } } });
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

async function placePrimary(ordinal: number): Promise<void> {
  await c.applySpec({ memberWeights: { [String(ordinal)]: 90 } });
  await eventually(() => c.primary() === `${NAME}-${ordinal}` && c.status().state === "Healthy", 60_000, `primary on ${NAME}-${ordinal}`);
  await c.applySpec({ memberWeights: {} });
  await c.waitHealthy(60_000, N);
  await w.waitForAcks(50, 20_000);
}

/** Rolls a mysqlConfig change and checks the invariants of the rollout; returns the deletions. */
async function rollConfig(value: number): Promise<PodDeletion[]> {
  const deletions: PodDeletion[] = [];
  const stop = recordPodDeletions(c, deletions);
  const from = updateRevision(c);
  const at = Date.now();
  try {
    await c.applySpec({ mysqlConfig: { max_connections: value } });
    await eventually(() => rolloutFinished(c, from, N), 300_000, "every pod updated, ready, cluster Healthy and UpToDate");
  } finally {
    stop();
  }
  await w.waitForAcks(50, 20_000);
  process.stderr.write(
    `rollout: ${deletions.map((d) => `${d.pod}${d.pod === d.primary ? "(primary)" : ""}@${d.state}`).join(" ")}; max write gap ${w.gap(at, Date.now()).ms} ms\n`,
  );
  // Each pod replaced exactly once, and only while the cluster was Healthy and it was not the primary.
  expect(deletions.map((d) => d.pod).sort()).toEqual([0, 1, 2].map((i) => `${NAME}-${i}`));
  for (const d of deletions) {
    expect(d.state, `${d.pod} deleted while ${d.state}`).toBe("Healthy");
    expect(d.primary, `${d.pod} deleted while primary`).not.toBe(d.pod);
    expect(d.revision).not.toBe(d.updateRevision);
  }
  // The configuration reached every server.
  for (let i = 0; i < N; i++) {
    const rows = await query<{ v: number } & RowDataPacket>(c.pod(`${NAME}-${i}`), "SELECT @@max_connections AS v", 5000);
    expect(Number(rows[0]?.v)).toBe(value);
  }
  const ids = await c.idsOn(c.primary());
  expect(w.lost(ids, Date.now())).toEqual([]);
  expect(rolloutCondition(c)).toMatchObject({ status: "False", reason: "UpToDate" });
  return deletions;
}

describe("rolling updates under writes (MariaDB, local runtime)", () => {
  it("replaces the replicas first (highest ordinal first), then switches over and replaces the old primary on ordinal 0", async () => {
    await placePrimary(0);
    const first = c.t.events.length;
    const deletions = await rollConfig(211);
    expect(deletions.map((d) => d.pod)).toEqual([`${NAME}-2`, `${NAME}-1`, `${NAME}-0`]);
    // The primary moved off shop-0 (to an updated replica) before its pod went.
    const moved = c.t.events.slice(first).find((e) => e.source === `cluster ${NAME}` && /primary is now shop-[12] \(was shop-0\)/.test(e.message));
    expect(moved).toBeDefined();
    expect(c.primary()).not.toBe(`${NAME}-0`);
  }, 400_000);

  it("moves a primary on the highest ordinal away before anything is replaced, and never deletes a primary's pod", async () => {
    await placePrimary(N - 1);
    const deletions = await rollConfig(222);
    // The highest ordinal goes first (a partition always does), but as a replica by then.
    expect(deletions[0]?.pod).toBe(`${NAME}-${N - 1}`);
    expect(deletions[0]?.primary).not.toBe(`${NAME}-${N - 1}`);
  }, 400_000);

  it("pauses a due step while the cluster is Degraded and says why", async () => {
    // A replica's server stops answering: the next step must wait for it.
    const primary = c.primary();
    const replica = [0, 1, 2].map((i) => `${NAME}-${i}`).find((n) => n !== primary) ?? "";
    const deletions: PodDeletion[] = [];
    const stop = recordPodDeletions(c, deletions);
    const from = updateRevision(c);
    try {
      c.rt.kill(replica, "STOP");
      await eventually(() => c.status().state === "Degraded", 60_000, "Degraded with a hung replica");
      await c.applySpec({ mysqlConfig: { max_connections: 233 } });
      await eventually(() => rolloutCondition(c)?.reason === "Paused", 60_000, "rollout paused");
      expect(rolloutCondition(c)?.message).toMatch(/^rollout paused: /);
      expect(c.status().message).toMatch(/rollout paused: /);
      expect(deletions).toEqual([]);
    } finally {
      c.rt.kill(replica, "CONT");
      stop();
    }
    await eventually(() => rolloutFinished(c, from, N), 300_000, "rollout finished after the replica came back");
    const ids = await c.idsOn(c.primary());
    expect(w.lost(ids, Date.now())).toEqual([]);
  }, 400_000);
});
