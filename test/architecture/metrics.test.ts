/**
 * Metrics are declared one way (docs/architecture.md#metrics): each feature's group, in its own
 * folder, built with the `counter` and `gauge` of server/ops/metrics.ts, and the node's set
 * composed of the groups at the wiring floor.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nodeMetrics } from "../../server/node-metrics.js";

/** Every .ts file under `dir`, as a path from the repository's root. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

describe("metrics", () => {
  it("are constructed only in server/ops/metrics.ts: every other file declares them with its counter and gauge", () => {
    const constructing = sources("server").filter(
      (path) => path !== join("server", "ops", "metrics.ts") && /\bnew (Counter|Gauge|Histogram|Summary)\b/.test(readFileSync(path, "utf8")),
    );
    expect(constructing).toEqual([]);
  });

  it("of the node are each one member of its set: no group's member hides another's", async () => {
    const { registry, ...members } = nodeMetrics({ processMetrics: false });
    expect(Object.keys(members)).toHaveLength((await registry.getMetricsAsJSON()).length);
  });
});
