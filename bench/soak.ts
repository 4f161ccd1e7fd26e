/**
 * `npm run bench:soak` (issue 16): a long run of primary failures under a steady writer through
 * `<c>`, `failover.delaySeconds: 2`: first SOAK_KILLS (300) SIGKILLs of the primary, then
 * SOAK_HUNG (100) hung primaries (SIGSTOP until the failover, then SIGCONT). After every event
 * the writer must resume, no acknowledged write may be missing on the new primary, and every
 * instance must be ready again with the cluster Healthy (the run fails otherwise, keeping its
 * state dir: events in logs/events.log, each server's log in logs/<pod>.log). Prints per kind the
 * median and max write gap and the worst recovery (event -> every instance ready, Healthy).
 * Not part of `npm test` (about an hour).
 */
import { runHaBench } from "./ha-common.js";
import { eventually } from "../test/helpers/local.js";

const kills = Number(process.env["SOAK_KILLS"] ?? 300);
const hung = Number(process.env["SOAK_HUNG"] ?? 100);
const kind = (run: number): string => (run <= kills ? "kill" : "hung");

await runHaBench({
  title: `bench:soak: ${kills} SIGKILLs, then ${hung} SIGSTOP/SIGCONT of the primary, failover.delaySeconds 2`,
  ipPrefix: "127.30.12",
  spec: { failover: { delaySeconds: 2 } },
  runs: kills + hung,
  // As bench:failover: every restart after a pod's first crash waits 3 s, longer than the delay.
  crashLoopBaseMs: 3000,
  crashLoopMaxMs: 3000,
  targetMedianMs: 5000,
  allowReopen: true,
  settle: true,
  group: kind,
  prepare: async (c) => {
    for (const p of c.rt.status().pods) c.rt.kill(p.name, "KILL");
    await eventually(() => c.rt.kubelet.pods().every((p) => p.restarts >= 1 && p.ready), 60_000, "every pod restarted once");
  },
  disrupt: async (c, run) => {
    const from = c.primary();
    const at = Date.now();
    if (kind(run) === "kill") {
      c.rt.kill(from, "KILL");
      return at;
    }
    c.rt.kill(from, "STOP");
    try {
      await eventually(() => c.primary() !== from, 60_000, `failover away from hung ${from} (run ${run})`);
    } finally {
      c.rt.kill(from, "CONT");
    }
    return at;
  },
});
