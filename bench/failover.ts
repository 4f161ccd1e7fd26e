/**
 * `npm run bench:failover` (issue 4): 10 SIGKILLs of the primary under a steady writer through
 * `<c>`, `failover.delaySeconds: 2`. Per run: the write gap, the acknowledged writes lost, and
 * where the time went: `detect` (kill -> failingSince, the first sync that saw it down; it may
 * be slightly negative, the sync's clock is read when it starts), `wait` (failingSince -> the
 * failover, i.e. the delay plus the sync that ran it), `route` (failover decided -> first
 * acknowledged write on the new primary: Service update, proxy, reconnect).
 *
 * A killed container is restarted at once the first time (as the kubelet does) and reopened if
 * it is back before the delay: that is no failover. So each pod is crashed once before the runs,
 * and CrashLoopBackOff is set to 3 s: every measured kill keeps the primary down past the delay.
 */
import { runHaBench } from "./ha-common.js";
import { eventually } from "../test/helpers/local.js";

await runHaBench({
  title: "bench:failover: SIGKILL of the primary, failover.delaySeconds 2",
  ipPrefix: "127.30.10",
  spec: { failover: { delaySeconds: 2 } },
  runs: Number(process.env["RUNS"] ?? 10),
  crashLoopBaseMs: 3000,
  crashLoopMaxMs: 3000,
  targetMedianMs: 5000,
  allowReopen: true,
  settle: true,
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
  explain: (c, at, w) => {
    const last = c.status().lastOperation;
    const since = Date.parse(/unavailable since (\S+Z)/.exec(last?.reason ?? "")?.[1] ?? "");
    const failedOver = Date.parse(last?.time ?? "");
    const first = w.acks.find((a) => a.at > failedOver);
    return { detect: since - at, wait: failedOver - since, route: (first?.at ?? NaN) - failedOver };
  },
});
