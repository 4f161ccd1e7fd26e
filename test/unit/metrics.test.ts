/**
 * The Prometheus registry (src/metrics.ts): text exposition format 0.0.4, series identified by
 * their sorted labels, label values escaped.
 */
import { describe, expect, it } from "vitest";
import { Registry } from "../../src/metrics.js";

describe("metrics registry", () => {
  it("renders counters, gauges and histograms with sorted, escaped labels", () => {
    const r = new Registry();
    const c = r.counter("c_total", "A counter.");
    const g = r.gauge("g", "A gauge.");
    const h = r.histogram("h_seconds", "A histogram.", [0.1, 1]);
    c.inc({ b: "2", a: "1" });
    c.inc({ a: "1", b: "2" }, 2);
    c.inc();
    g.set({ namespace: "ns", cluster: "c", value: 'back\\slash "quoted"\nnewline' }, 3);
    g.set({ namespace: "ns", cluster: "d" }, 1);
    g.deleteMatching({ namespace: "ns", cluster: "d" });
    h.observe({ hook: "sync" }, 0.05);
    h.observe({ hook: "sync" }, 0.5);
    h.observe({ hook: "sync" }, 5);
    expect(r.render()).toBe(
      [
        "# HELP c_total A counter.",
        "# TYPE c_total counter",
        "c_total 1",
        'c_total{a="1",b="2"} 3',
        "# HELP g A gauge.",
        "# TYPE g gauge",
        'g{cluster="c",namespace="ns",value="back\\\\slash \\"quoted\\"\\nnewline"} 3',
        "# HELP h_seconds A histogram.",
        "# TYPE h_seconds histogram",
        'h_seconds_bucket{hook="sync",le="0.1"} 1',
        'h_seconds_bucket{hook="sync",le="1"} 2',
        'h_seconds_bucket{hook="sync",le="+Inf"} 3',
        'h_seconds_sum{hook="sync"} 5.55',
        'h_seconds_count{hook="sync"} 3',
        "",
      ].join("\n"),
    );
  });
});
