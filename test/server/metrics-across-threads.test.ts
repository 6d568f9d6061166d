import { describe, expect, it } from "vitest";
import { aggregateMetrics, gauge, metricsRegistry } from "../../server/ops/metrics.js";

describe("a node's /metrics across its threads", () => {
  it("sums a gauge by default, and takes the largest of one declared worst-of", async () => {
    const threads = [3, 5, 2].map((value) => {
      const registry = metricsRegistry();
      gauge(registry, "test_total_things", "summed").set(value);
      gauge(registry, "test_worst_delay_seconds", "worst-of", [], "max").set(value / 10);
      return registry;
    });
    const text = await aggregateMetrics(await Promise.all(threads.map((registry) => registry.getMetricsAsJSON())));
    expect(text).toMatch(/^test_total_things 10$/m);
    expect(text).toMatch(/^test_worst_delay_seconds 0\.5$/m);
  });
});
