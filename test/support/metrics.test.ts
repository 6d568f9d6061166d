import { describe, expect, it } from "vitest";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { counter } from "../../server/ops/metrics.js";
import { metricGroup, metricOf, metricValue } from "./metrics.js";

// The tests' metric reader, on text prom-client writes itself.
function exampleRegistry(): Registry {
  const registry = new Registry();
  new Gauge({ name: "t_plain", help: "h", registers: [registry] }).set(7);
  const byReason = new Counter({ name: "t_refused_total", help: "h", labelNames: ["reason", "side"] as const, registers: [registry] });
  byReason.inc({ reason: "vsn", side: "asked" }, 2);
  byReason.inc({ reason: "origin", side: "asked" });
  byReason.inc({ reason: 'a "quoted", {braced} one', side: "answered" }, 5);
  new Counter({ name: "t_untouched_total", help: "h", labelNames: ["reason"] as const, registers: [registry] });
  new Histogram({ name: "t_seconds", help: "h", buckets: [1], registers: [registry] }).observe(0.5);
  return registry;
}

describe("the metric reader", () => {
  it("sums the samples whose labels include the ones asked for, and reads one sample by all its labels", async () => {
    const text = await exampleRegistry().metrics();
    expect(metricValue(text, "t_plain")).toBe(7);
    expect(metricValue(text, "t_refused_total")).toBe(8);
    expect(metricValue(text, "t_refused_total", { side: "asked" })).toBe(3);
    expect(metricValue(text, "t_refused_total", { reason: "vsn", side: "asked" })).toBe(2);
    expect(metricValue(text, "t_refused_total", { reason: 'a "quoted", {braced} one' })).toBe(5);
    expect(metricValue(text, "t_seconds_count")).toBe(1);
    expect(metricValue(text, "t_seconds_bucket", { le: "1" })).toBe(1);
  });

  it("reads 0 for a declared family with no matching sample, and nothing for a name that is not there", async () => {
    const text = await exampleRegistry().metrics();
    expect(metricValue(text, "t_refused_total", { reason: "never" })).toBe(0);
    expect(metricValue(text, "t_untouched_total")).toBe(0);
    expect(metricValue(text, "t_nothing_total")).toBeUndefined();
    // A name that is only a prefix of another is not it.
    expect(metricValue(text, "t_refused")).toBeUndefined();
  });

  it("reads a registry, and fails on a metric the source does not expose", async () => {
    const registry = exampleRegistry();
    expect(await metricOf({ registry }, "t_refused_total", { reason: "origin" })).toBe(1);
    await expect(metricOf({ registry }, "t_refusd_total")).rejects.toThrow("no metric t_refusd_total in the registry");
  });

  it("reads a feature's group declared alone on a registry of its own", async () => {
    const metrics = metricGroup((registry) => ({ refused: counter(registry, "t_group_refused_total", "h", ["reason"]) }));
    metrics.refused.inc({ reason: "vsn" }, 3);
    expect(await metricOf(metrics, "t_group_refused_total", { reason: "vsn" })).toBe(3);
    expect(metricValue(await metrics.registry.metrics(), "process_cpu_seconds_total")).toBeUndefined();
  });
});
