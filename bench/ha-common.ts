/**
 * Shared driver of the high-availability benchmarks (`bench/failover.ts`, `bench/switchover.ts`):
 * a 3-instance MariaDB cluster in its own local runtime (temporary state dir), two application
 * writers through `<c>` (one that reconnects at once on every error, and a `client` like a
 * typical application's pool: 2 s connect timeout, 3 s query timeout, a new connection 50 ms
 * after an error; issue 12), N disruptive runs, and per run the write gap of each (the longest
 * pause between two acknowledged writes around the event), `epToAck` (the `<c>` proxy's
 * endpoints last changing to a non-empty set -> the client's first acknowledged write after
 * it) and the number of acknowledged writes of either missing on the primary afterwards. Every
 * process is stopped at the end.
 */
import { type ClusterStatusView, type HaCluster, Writer, median, settleOldPrimary, startHaCluster } from "../test/helpers/ha.js";
import { eventually, finishStateDir, leftoverPids } from "../test/helpers/local.js";

/** What one run measured. */
export interface RunResult {
  run: number;
  from: string;
  to: string;
  operation: string;
  gapMs: number;
  lost: number;
  /** What became of the old primary: "replica", "errant-tail" (re-seeded by hand), "reopened", "moved". */
  outcome: string;
  /** Event -> the cluster Healthy again with every instance ready (ms). */
  recoveryMs: number;
  /** The realistic client's write gap (ms): what an application sees. */
  clientGapMs: number;
  /** Extra columns (ms), e.g. where the time went. */
  extra: Record<string, number>;
}

/** Realistic client ids start here (the instant writer's stay below). */
const CLIENT_FIRST_ID = 500_000_000;

/** Samples the `<c>` proxy's endpoints (every 10 ms) and keeps each change with its time. */
class EndpointLog {
  readonly changes: Array<{ at: number; backends: string }> = [];
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly c: HaCluster) {}
  start(): this {
    this.timer = setInterval(() => {
      const backends = (this.c.rt.proxies.proxy("default", this.c.name)?.current() ?? [])
        .map((b) => b.ip)
        .sort()
        .join(",");
      if (this.changes.at(-1)?.backends !== backends) this.changes.push({ at: Date.now(), backends });
    }, 10);
    return this;
  }
  stop(): void {
    clearInterval(this.timer);
  }
  /** The last change to a non-empty set at or before `t` and after `since`. */
  lastRouteBefore(since: number, t: number): number {
    let found = NaN;
    for (const ch of this.changes) if (ch.at > since && ch.at <= t && ch.backends !== "") found = ch.at;
    return found;
  }
}

/** A benchmark: setup, then `runs` times `disrupt` (returns when the primary has moved). */
export interface HaBench {
  title: string;
  ipPrefix: string;
  spec: Record<string, unknown>;
  runs: number;
  crashLoopBaseMs?: number;
  crashLoopMaxMs?: number;
  /** Before the measured runs (not measured). */
  prepare?: (c: HaCluster, w: Writer) => Promise<void>;
  /** Causes the change; resolves with the event time (ms) used for the gap. */
  disrupt: (c: HaCluster, run: number) => Promise<number>;
  /** Extra per-run numbers, from the status as it was when the primary had moved (`moved`). */
  explain?: (c: HaCluster, eventAt: number, w: Writer, moved: ClusterStatusView) => Record<string, number>;
  /** Wait for the old primary to settle (replica, or errant tail re-seeded by hand) in each run. */
  settle?: boolean;
  /** A disrupted primary may be reopened instead of failed over (crash benches). */
  allowReopen?: boolean;
  /** Names the kind of event of a run (e.g. "kill", "hung"): one summary line per kind. */
  group?: (run: number) => string;
  /** Target median gap (ms), for the summary line. */
  targetMedianMs: number;
}

/** Container restarts of a pod so far (the local kubelet's count). */
function restartsOf(c: HaCluster, pod: string): number {
  return c.rt.kubelet.pods().find((p) => p.name === pod)?.restarts ?? 0;
}

function pad(v: string | number, n: number): string {
  return String(v).padStart(n);
}

/** Runs a benchmark and prints the table and the summary; exits non-zero if a write was lost. */
export async function runHaBench(b: HaBench): Promise<void> {
  const started = Date.now();
  process.stdout.write(`${b.title}\nstarting a 3-instance MariaDB cluster (pod IPs ${b.ipPrefix}.0/24) ...\n`);
  const c = await startHaCluster({
    ipPrefix: b.ipPrefix,
    spec: b.spec,
    resyncPeriodSeconds: 30,
    ...(b.crashLoopBaseMs !== undefined ? { crashLoopBaseMs: b.crashLoopBaseMs } : {}),
    ...(b.crashLoopMaxMs !== undefined ? { crashLoopMaxMs: b.crashLoopMaxMs } : {}),
  });
  const w = new Writer(() => c.service()).start();
  const client = Writer.realistic(() => c.service(), CLIENT_FIRST_ID).start();
  const eps = new EndpointLog(c).start();
  const results: RunResult[] = [];
  let failed = true;
  try {
    await w.waitForAcks(200, 30_000);
    await b.prepare?.(c, w);
    process.stdout.write(`cluster Healthy after ${((Date.now() - started) / 1000).toFixed(1)} s; ${b.runs} runs\n`);
    // Ctrl-C ends the benchmark after the current run, with its summary and every process stopped.
    let interrupted = false;
    process.once("SIGINT", () => {
      interrupted = true;
      process.stdout.write("interrupted: stopping after this run\n");
    });
    for (let run = 1; run <= b.runs && !interrupted; run++) {
      await c.waitHealthy(120_000, Number(b.spec["instances"] ?? 3));
      await w.waitForAcks(100, 30_000);
      const from = c.primary();
      const restartsBefore = restartsOf(c, from);
      const at = await b.disrupt(c, run);
      // The outcome is a failover, or (switchover benches excepted) the old primary reopened: a
      // killed primary that is back before the failover delay ran out (a CPU-starved sync can
      // take longer than the crash loop's back-off) is rightly kept; both must lose nothing.
      await eventually(
        () => c.primary() !== from || (!!b.allowReopen && c.status().state === "Healthy" && restartsOf(c, from) > restartsBefore),
        60_000,
        `a new primary${b.allowReopen ? " or the old one reopened" : ""} (run ${run})`,
      );
      const moved = c.status();
      await w.waitForAcks(50, 60_000);
      await client.waitForAcks(20, 60_000);
      const gap = w.gap(at, Date.now());
      const clientGap = client.gap(at, Date.now());
      const upTo = Date.now();
      const present = await c.idsOn(c.primary());
      const lost = w.lost(present, upTo).length + client.lost(present, upTo).length;
      // Every instance back and the cluster Healthy: a killed instance that never comes back
      // fails the run here (issue 16), with the state dir kept. An old primary back errant by its
      // own unacknowledged tail is checked and re-seeded by hand (settleOldPrimary), and counted.
      const to = c.primary();
      const outcome = to === from ? "reopened" : b.settle ? await settleOldPrimary(c, from, [w, client]) : "moved";
      await c.waitHealthy(120_000, Number(b.spec["instances"] ?? 3));
      const recoveryMs = Date.now() - at;
      const r: RunResult = {
        run,
        from,
        to,
        operation: to === from ? "Reopened" : (moved.lastOperation?.type ?? "?"),
        outcome,
        gapMs: gap.ms,
        clientGapMs: clientGap.ms,
        lost,
        recoveryMs,
        extra: { ...(b.explain?.(c, at, w, moved) ?? {}), epToAck: clientGap.to - eps.lastRouteBefore(at, clientGap.to) },
      };
      results.push(r);
      const extra = Object.entries(r.extra)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");
      process.stdout.write(
        `${pad(run, 3)}  ${r.from.padEnd(7)} -> ${r.to.padEnd(7)} ${r.operation.padEnd(10)} gap ${pad(r.gapMs, 5)} ms  client ${pad(r.clientGapMs, 5)} ms  lost ${r.lost}  ${r.outcome.padEnd(11)} recovered ${pad(r.recoveryMs, 6)} ms  ${extra}\n`,
      );
    }
    failed = results.some((r) => r.lost > 0);
  } finally {
    eps.stop();
    await Promise.all([w.stop(), client.stop()]);
    await c.rt.stop();
    const left = leftoverPids(c.t.stateDir);
    if (left.length > 0) process.stdout.write(`WARNING: processes left: ${JSON.stringify(left)}\n`);
    finishStateDir(c.t.stateDir, failed);
  }
  const gaps = results.map((r) => r.gapMs);
  const clientGaps = results.map((r) => r.clientGapMs);
  const lost = results.reduce((n, r) => n + r.lost, 0);
  const med = median(gaps);
  const clientMed = median(clientGaps);
  const worst = Math.max(...results.map((r) => r.recoveryMs));
  process.stdout.write(
    `summary: ${results.length} runs, median gap ${med} ms, max gap ${Math.max(...gaps)} ms, client-visible (2 s connect, 3 s query timeout, reconnect after 50 ms) median ${clientMed} ms, max ${Math.max(...clientGaps)} ms, ` +
      `worst recovery (every instance ready, Healthy) ${worst} ms, acknowledged writes ${w.acks.length + client.acks.length}, lost ${lost}` +
      ` (target: client-visible median < ${b.targetMedianMs} ms, 0 lost: ${clientMed < b.targetMedianMs && lost === 0 ? "met" : "NOT met"})\n`,
  );
  if (b.group) {
    const groups = new Map<string, RunResult[]>();
    for (const r of results) groups.set(b.group(r.run), [...(groups.get(b.group(r.run)) ?? []), r]);
    for (const [name, rs] of groups) {
      const g = rs.map((r) => r.gapMs);
      const cg = rs.map((r) => r.clientGapMs);
      const count = (o: string): number => rs.filter((r) => r.outcome === o).length;
      process.stdout.write(
        `  ${name}: ${rs.length} events (old primary: ${count("replica")} rejoined, ${count("errant-tail")} errant by its unacknowledged tail and re-seeded by hand, ${count("reopened")} reopened), median gap ${median(g)} ms, max gap ${Math.max(...g)} ms, client-visible median ${median(cg)} ms, max ${Math.max(...cg)} ms, worst recovery ${Math.max(...rs.map((r) => r.recoveryMs))} ms, lost ${rs.reduce((n, r) => n + r.lost, 0)}\n`,
      );
    }
  }
  if (lost > 0) process.exitCode = 1;
}
