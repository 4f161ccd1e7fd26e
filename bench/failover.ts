/**
 * `npm run bench:failover` (issues 4 and 12): primary failures under two steady writers through
 * `<c>` (one reconnecting at once, one like an application's pool: 2 s connect, 3 s query
 * timeout, reconnect after 50 ms), `failover.delaySeconds: 2`, lossless. `MODE` picks the event:
 * - `kill` (default): SIGKILL of the primary, kept down past the delay (crash loop): failover.
 *   A killed container is restarted at once the first time (as the kubelet does), so each pod is
 *   crashed once before the runs and CrashLoopBackOff is set to 3 s.
 * - `kept`: SIGKILL of the primary, restarted within 0.2 s (CrashLoopBackOff 0.2 s): reopened,
 *   no failover.
 * - `stop`: the primary hung (SIGSTOP) for 15 s, then SIGCONT: failover, the old primary fenced.
 * - `all`: the three in a row, each on its own cluster, in one run.
 * Per run: both write gaps, the acknowledged writes lost, and where the time went: `detect`
 * (event -> failingSince, the first sync that saw it down; it may be slightly negative, the
 * sync's clock is read when it starts), `wait` (failingSince -> the failover: the delay plus the
 * sync that ran it), `route` (failover decided -> first acknowledged write on the new primary),
 * `epToAck` (`<c>` endpoints last changed -> the client's first acknowledged write).
 * Targets (client-visible median): kill <= delay + 1 s, kept < 1.5 s, stop <= delay + 2 s.
 */
import type { ClusterStatusView, HaCluster, Writer } from "../test/helpers/ha.js";
import { runHaBench } from "./ha-common.js";
import { eventually } from "../test/helpers/local.js";

const DELAY_SECONDS = 2;
/** How long a hung primary stays stopped (`stop`). */
const STOP_SECONDS = Number(process.env["STOP_SECONDS"] ?? 15);
const runs = Number(process.env["RUNS"] ?? 10);
const mode = process.env["MODE"] ?? "kill";
if (!["kill", "kept", "stop", "all"].includes(mode)) throw new Error(`MODE must be kill, kept, stop or all, not ${mode}`);

function explain(_c: HaCluster, at: number, w: Writer, moved: ClusterStatusView): Record<string, number> {
  const last = moved.lastOperation;
  if (last?.type !== "Failover") return {};
  const since = Date.parse(/unavailable since (\S+Z)/.exec(last.reason ?? "")?.[1] ?? "");
  const failedOver = Date.parse(last.time ?? "");
  const first = w.acks.find((a) => a.at > failedOver);
  return { detect: since - at, wait: failedOver - since, route: (first?.at ?? NaN) - failedOver };
}

const common = { spec: { failover: { delaySeconds: DELAY_SECONDS } }, runs, allowReopen: true, settle: true, explain };

if (mode === "kill" || mode === "all") {
  await runHaBench({
    ...common,
    title: `bench:failover MODE=kill: SIGKILL of the primary in a crash loop (restart after 3 s), failover.delaySeconds ${DELAY_SECONDS}`,
    ipPrefix: "127.30.10",
    crashLoopBaseMs: 3000,
    crashLoopMaxMs: 3000,
    targetMedianMs: (DELAY_SECONDS + 1) * 1000,
    group: () => "kill",
    prepare: async (c) => {
      for (const p of c.rt.status().pods) c.rt.kill(p.name, "KILL");
      await eventually(() => c.rt.kubelet.pods().every((p) => p.restarts >= 1 && p.ready), 60_000, "every pod restarted once");
    },
    disrupt: async (c) => {
      const at = Date.now();
      c.rt.kill(c.primary(), "KILL");
      return at;
    },
  });
}

if (mode === "kept" || mode === "all") {
  await runHaBench({
    ...common,
    title: `bench:failover MODE=kept: SIGKILL of the primary, restarted within 0.2 s (inside failover.delaySeconds ${DELAY_SECONDS})`,
    ipPrefix: "127.30.10",
    crashLoopBaseMs: 200,
    crashLoopMaxMs: 200,
    targetMedianMs: 1500,
    group: () => "kept",
    disrupt: async (c) => {
      const at = Date.now();
      c.rt.kill(c.primary(), "KILL");
      return at;
    },
  });
}

if (mode === "stop" || mode === "all") {
  await runHaBench({
    ...common,
    title: `bench:failover MODE=stop: the primary hung (SIGSTOP) for ${STOP_SECONDS} s, then SIGCONT, failover.delaySeconds ${DELAY_SECONDS}`,
    ipPrefix: "127.30.10",
    targetMedianMs: (DELAY_SECONDS + 2) * 1000,
    group: () => "hung",
    disrupt: async (c) => {
      const from = c.primary();
      const at = Date.now();
      c.rt.kill(from, "STOP");
      // Resumed STOP_SECONDS after the stop, whatever happened meanwhile (the run waits for it).
      const resume = setTimeout(() => c.rt.kill(from, "CONT"), STOP_SECONDS * 1000);
      try {
        await eventually(() => c.primary() !== from, 60_000, `failover away from hung ${from}`);
      } finally {
        await new Promise((r) => setTimeout(r, Math.max(0, at + STOP_SECONDS * 1000 - Date.now())));
        clearTimeout(resume);
        c.rt.kill(from, "CONT");
      }
      return at;
    },
  });
}
