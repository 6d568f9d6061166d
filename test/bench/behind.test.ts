/**
 * The behind scenario at a tiny size: a node, its subscribers (some reading at a tenth of the
 * stream) and their publisher, each variant end to end. Asserts completeness only, never speed.
 */
import { describe, expect, it } from "vitest";

import { measureBehind, type BehindOptions } from "../../bench/scenarios/behind.js";

const options: BehindOptions = { fast: 8, slow: 2, rate: 100, bytes: 1024, durationS: 2, keys: 10, pin: false, releaseS: 30 };

describe("bench behind (smoke)", () => {
  it("gives every subscriber every message of a history topic once, in order, the slow ones included", async () => {
    const { client } = await measureBehind("history", options);
    expect(client.sent).toBe(200);
    expect(client.fast).toMatchObject({ clients: 8, missing: 0, duplicates: 0, outOfOrder: 0, complete: 8, closed: {} });
    expect(client.slow).toMatchObject({ clients: 2, missing: 0, duplicates: 0, outOfOrder: 0, complete: 2, closed: {} });
  }, 60_000);

  it("gives the slow subscribers of a conflating topic the latest message of every key", async () => {
    const { client } = await measureBehind("conflate", options);
    expect(client.fast).toMatchObject({ missing: 0, duplicates: 0, outOfOrder: 0, complete: 8 });
    expect(client.slow).toMatchObject({ wrongKeys: 0, outOfOrder: 0, complete: 2, closed: {} });
  }, 60_000);

  it("runs with behindBytes off and reports the node's memory and counters", async () => {
    const result = await measureBehind("off", options);
    expect(result.client.fast).toMatchObject({ missing: 0, complete: 8 });
    expect(result.rssPeak).toBeGreaterThan(0);
    expect(result.metrics.cinder_buffered_bytes).toBeDefined();
  }, 60_000);
});
