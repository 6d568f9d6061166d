/**
 * The connection-cost benchmark works end to end on a small run: raw uWS and Cinder (the built
 * dist/, as the benchmark runs it) each get 200 idle sockets with one channel, sampled through the
 * memory probe, and the report has every part as a number, and a heap census from snapshots.
 * Asserts completeness only, never how many bytes.
 */
import { describe, expect, it } from "vitest";

import { PARTS, summarize } from "../../bench/lib/connection-cost-report.js";
import { measureAll } from "../../bench/scenarios/connection-cost.js";

const SOCKETS = 200;

describe("connection-cost benchmark", () => {
  it("reports every part per connection for raw uWS and Cinder, and counts Cinder's heap objects by kind", async () => {
    // Waits for V8 to give back its young generation bounded at 10 s each: Node 24's V8 may keep it longer.
    const result = await measureAll(["--sockets", String(SOCKETS), "--runs", "1", "--no-pin", "--settle-s", "10"]);
    expect(result.runs.map((r) => r.target)).toEqual(["raw-uws", "cinder", "raw-uws", "cinder"]);
    for (const run of result.runs) {
      expect(run).toMatchObject({ connected: SOCKETS, joined: SOCKETS, failures: 0 });
    }
    const summary = summarize(result.runs.filter((r) => !r.census));
    for (const target of ["raw-uws", "cinder"]) {
      for (const part of PARTS) expect(Number.isFinite(summary.medians[target][part.label]), `${target}: ${part.label}`).toBe(true);
    }
    const census = result.runs.find((r) => r.target === "cinder" && r.census)?.census;
    // Each socket is one SocketConnection and its join one Channel: the census finds them by constructor.
    expect(census?.upgrade.SocketConnection?.count).toBe(1);
    expect(census?.join.Channel?.count).toBe(1);
    for (const entry of [...Object.values(census?.upgrade ?? {}), ...Object.values(census?.join ?? {})]) {
      expect(Number.isFinite(entry.bytes) && Number.isFinite(entry.count)).toBe(true);
    }
  }, 120_000);
});
