/**
 * `npm run bench:switchover` (issue 4): 10 weight-triggered switchovers under a steady writer
 * through `<c>`: each run gives the next instance weight 90 (the others 50). Per run: the write
 * gap, the acknowledged writes lost, `decide` (spec applied -> switchover recorded) and `route`
 * (switchover -> first acknowledged write on the new primary).
 */
import { runHaBench } from "./ha-common.js";

await runHaBench({
  title: "bench:switchover: memberWeights change moves the primary",
  ipPrefix: "127.30.11",
  spec: {},
  runs: Number(process.env["RUNS"] ?? 10),
  targetMedianMs: 1000,
  disrupt: async (c) => {
    const next = (Number(c.primary().split("-").pop()) + 1) % 3;
    const at = Date.now();
    await c.applySpec({ memberWeights: { [String(next)]: 90 } });
    return at;
  },
  explain: (_c, at, w, moved) => {
    const done = Date.parse(moved.lastOperation?.time ?? "");
    const first = w.acks.find((a) => a.at > done);
    return { decide: done - at, route: (first?.at ?? NaN) - done };
  },
});
