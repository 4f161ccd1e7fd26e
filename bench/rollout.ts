/**
 * `npm run bench:rollout` (issue 12): supervised rolling updates under a steady writer through
 * `<c>` (3-instance MariaDB, `durability: lossless`, `failover.delaySeconds: 2`). Each run changes
 * `mysqlConfig` (a pod-template change that replaces every pod) and waits for the rollout to end
 * (every pod at the new revision, ready, Healthy, RolloutProgressing UpToDate). Per run: the
 * order pods were replaced in, the cluster state when each was deleted (must be Healthy), the
 * switchovers, the longest write gap, acknowledged writes lost, and the duration. Runs 1.. start
 * with the primary on ordinal 0, then on the highest ordinal (memberWeights), alternating.
 */
import { Writer, median, startHaCluster } from "../test/helpers/ha.js";
import { eventually, finishStateDir, leftoverPids } from "../test/helpers/local.js";
import { type PodDeletion, recordPodDeletions, rolloutFinished, updateRevision } from "../test/helpers/rollout.js";

const RUNS = Number(process.env["RUNS"] ?? 4);
const N = 3;
const TARGET_GAP_MS = 500;

const started = Date.now();
process.stdout.write(`bench:rollout: mysqlConfig changes rolled under a writer\nstarting a ${N}-instance MariaDB cluster (pod IPs 127.30.13.0/24) ...\n`);
const c = await startHaCluster({ ipPrefix: "127.30.13", spec: { failover: { delaySeconds: 2 } }, resyncPeriodSeconds: 30 });
const w = new Writer(() => c.service()).start();
interface Run {
  run: number;
  primaryBefore: string;
  primaryAfter: string;
  order: string[];
  notHealthy: string[];
  switchovers: number;
  gapMs: number;
  lost: number;
  durationMs: number;
}
const results: Run[] = [];
let failed = true;
try {
  await w.waitForAcks(200, 30_000);
  process.stdout.write(`cluster Healthy after ${((Date.now() - started) / 1000).toFixed(1)} s; ${RUNS} runs\n`);
  for (let run = 1; run <= RUNS; run++) {
    // Place the primary: ordinal 0 on odd runs, the highest ordinal on even runs.
    const want = run % 2 === 1 ? 0 : N - 1;
    await c.applySpec({ memberWeights: { [String(want)]: 90 } });
    await eventually(() => c.primary() === `${c.name}-${want}` && c.status().state === "Healthy", 60_000, `primary on ${c.name}-${want}`);
    // Equal weights again: the rollout alone decides where the primary goes.
    await c.applySpec({ memberWeights: {} });
    await c.waitHealthy(60_000, N);
    await w.waitForAcks(100, 30_000);
    const deletions: PodDeletion[] = [];
    const stop = recordPodDeletions(c, deletions);
    const primaryBefore = c.primary();
    const opsBefore = c.t.events.length;
    const from = updateRevision(c);
    const at = Date.now();
    await c.applySpec({ mysqlConfig: { max_connections: 200 + run } });
    await eventually(() => rolloutFinished(c, from, N), 300_000, `rollout ${run} finished`);
    stop();
    await w.waitForAcks(50, 30_000);
    const end = Date.now();
    const lost = w.lost(await c.idsOn(c.primary()), end).length;
    const moves = c.t.events.slice(opsBefore).filter((e) => /primary is now/.test(e.message));
    const switchovers = moves.length;
    // Where the longest pause was, against the primary moves and the pod deletions (ms after the change).
    const gap = w.gap(at, end);
    const rel = (t: number) => `+${((t - at) / 1000).toFixed(2)}s`;
    process.stdout.write(
      `     longest pause ${rel(gap.from)}..${rel(gap.to)}; primary moved ${moves.map((e) => rel(e.time.getTime())).join(" ")}; deletions ${deletions.map((d) => `${d.pod} ${rel(d.at)}`).join(", ")}\n`,
    );
    const r: Run = {
      run,
      primaryBefore,
      primaryAfter: c.primary(),
      order: deletions.map((d) => `${d.pod}${d.pod === d.primary ? "(primary!)" : ""}`),
      notHealthy: deletions.filter((d) => d.state !== "Healthy").map((d) => `${d.pod}@${d.state}`),
      switchovers,
      gapMs: gap.ms,
      lost,
      durationMs: end - at,
    };
    results.push(r);
    process.stdout.write(
      `${String(run).padStart(3)}  primary ${r.primaryBefore} -> ${r.primaryAfter}  order ${r.order.join(" ")}  deleted while not Healthy: ${r.notHealthy.join(",") || "none"}  switchovers ${r.switchovers}  max gap ${String(r.gapMs).padStart(5)} ms  lost ${r.lost}  duration ${(r.durationMs / 1000).toFixed(1)} s\n`,
    );
  }
  failed = results.some((r) => r.lost > 0 || r.notHealthy.length > 0 || r.order.some((o) => o.includes("primary!")));
} finally {
  await w.stop();
  await c.rt.stop();
  const left = leftoverPids(c.t.stateDir);
  if (left.length > 0) process.stdout.write(`WARNING: processes left: ${JSON.stringify(left)}\n`);
  finishStateDir(c.t.stateDir, failed);
}
const gaps = results.map((r) => r.gapMs);
const lost = results.reduce((n, r) => n + r.lost, 0);
const maxGap = Math.max(...gaps);
const ok = maxGap < TARGET_GAP_MS && lost === 0 && !failed;
process.stdout.write(
  `summary: ${results.length} rollouts of ${N} pods, median max-gap ${median(gaps)} ms, max gap ${maxGap} ms, median duration ${(median(results.map((r) => r.durationMs)) / 1000).toFixed(1)} s, ` +
    `acknowledged writes ${w.acks.length}, lost ${lost}, pods deleted while not Healthy ${results.reduce((n, r) => n + r.notHealthy.length, 0)}, primary pod deleted while primary ${results.filter((r) => r.order.some((o) => o.includes("primary!"))).length}` +
    ` (target: max gap < ${TARGET_GAP_MS} ms, 0 lost, nothing deleted while Degraded: ${ok ? "met" : "NOT met"})\n`,
);
if (failed) process.exitCode = 1;
