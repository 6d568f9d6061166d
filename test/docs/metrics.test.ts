/**
 * docs/metrics.md is the list of what /metrics serves, and the other pages name only metrics
 * that exist.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nodeMetrics } from "../../server/node-metrics.js";
import { ROOT, docsPages } from "../support/docs-pages.js";

/** `cinder_…` words in the docs that are not metrics: the dashboard socket's query parameter. */
const NOT_METRICS = new Set(["cinder_dashboard"]);

const served = async () => (await nodeMetrics({ processMetrics: false }).registry.getMetricsAsJSON()).map((metric) => metric.name).sort();

describe("metrics in the docs", () => {
  it("docs/metrics.md has a row for every metric the server registers, and for no other", async () => {
    const page = readFileSync(join(ROOT, "docs", "metrics.md"), "utf8");
    const rows = [...page.matchAll(/^\| `(cinder_[a-z_]+)/gm)].map((match) => match[1]).sort();
    expect(rows).toEqual(await served());
  });

  it("README.md and docs/ name no metric the server does not register", async () => {
    const known = new Set(await served());
    const named = docsPages().flatMap(({ path }) =>
      [...readFileSync(join(ROOT, path), "utf8").matchAll(/\bcinder_[a-z_]+/g)].map((match) => ({ path, name: match[0] })),
    );
    expect(named.length).toBeGreaterThan(100);
    expect(named.filter(({ name }) => !known.has(name) && !NOT_METRICS.has(name))).toEqual([]);
  });
});
