import { describe, expect, it } from "vitest";
import { MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from "./registry.js";

describe("MetricsRegistry", () => {
  it("renders counters with labels in the text format 0.0.4", () => {
    const registry = new MetricsRegistry();
    const sent = registry.counter("launch_test_total", "Things sent.", ["outcome", "kind"]);
    sent.inc({ kind: "a", outcome: "ok" });
    sent.inc({ outcome: "ok", kind: "a" }, 2);
    sent.inc({ outcome: 'we"ird\\\n', kind: "b" });
    expect(sent.get({ outcome: "ok", kind: "a" })).toBe(3);
    expect(registry.render()).toBe(
      [
        "# HELP launch_test_total Things sent.",
        "# TYPE launch_test_total counter",
        'launch_test_total{outcome="ok",kind="a"} 3',
        'launch_test_total{outcome="we\\"ird\\\\\\n",kind="b"} 1',
        "",
      ].join("\n"),
    );
    expect(PROMETHEUS_CONTENT_TYPE).toBe("text/plain; version=0.0.4; charset=utf-8");
  });

  it("renders histograms as cumulative buckets with +Inf, sum and count", () => {
    const registry = new MetricsRegistry();
    const h = registry.histogram("launch_test_seconds", "Durations.", [0.1, 1, 5]);
    for (const v of [0.05, 0.1, 0.5, 2, 10]) h.observe(v);
    expect(h.get()).toEqual({ count: 5, sum: 12.65 });
    expect(registry.render().split("\n")).toEqual([
      "# HELP launch_test_seconds Durations.",
      "# TYPE launch_test_seconds histogram",
      'launch_test_seconds_bucket{le="0.1"} 2',
      'launch_test_seconds_bucket{le="1"} 3',
      'launch_test_seconds_bucket{le="5"} 4',
      'launch_test_seconds_bucket{le="+Inf"} 5',
      "launch_test_seconds_sum 12.65",
      "launch_test_seconds_count 5",
      "",
    ]);
  });

  it("returns the same metric for the same name, and refuses a clash of types", () => {
    const registry = new MetricsRegistry();
    const a = registry.counter("launch_x_total", "X.", ["r"]);
    expect(registry.counter("launch_x_total", "X.", ["r"])).toBe(a);
    expect(() => registry.histogram("launch_x_total", "X.", [1])).toThrow(/already registered as a counter/);
  });

  it("refuses bad names, labels, buckets and decrements", () => {
    const registry = new MetricsRegistry();
    expect(() => registry.counter("bad-name", "x")).toThrow(/not a Prometheus name/);
    expect(() => registry.counter("ok_total", "x", ["bad-label"])).toThrow(/invalid label name/);
    expect(() => registry.histogram("h1", "x", [1, 1])).toThrow(/increasing order/);
    expect(() => registry.histogram("h2", "x", [1], ["le"])).toThrow(/'le'/);
    const c = registry.counter("c_total", "x", ["a"]);
    expect(() => c.inc({ b: "1" })).toThrow(/takes labels \[a\] \(got \[b\]\)/);
    expect(() => c.inc({ a: "1" }, -1)).toThrow(/only go up/);
  });

  it("renders nothing when empty", () => {
    expect(new MetricsRegistry().render()).toBe("");
  });
});
