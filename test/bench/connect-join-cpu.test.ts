/**
 * The connect-join-cpu benchmark works end to end on a small run: raw uWS and Cinder (the built
 * dist/, as the benchmark runs it) each linked to a redis-server, 50 sockets connect and join in a
 * warm-up round and a measured one, and every figure is a number. Asserts completeness only,
 * never how much CPU.
 */
import { describe, expect, it } from "vitest";

import { measureAll } from "../../bench/scenarios/connect-join-cpu.js";

const SOCKETS = 50;

describe("connect-join-cpu benchmark", () => {
  it("measures CPU per connect and per join for Cinder and raw uWS, taking turns", async () => {
    const { results } = await measureAll(["--sockets", String(SOCKETS), "--runs", "1", "--warmup", "1", "--rounds", "1", "--no-pin"]);
    expect(results.map((r) => r.target)).toEqual(["cinder", "raw-uws"]);
    for (const r of results) {
      expect(r).toMatchObject({ connected: SOCKETS, joined: SOCKETS });
      expect(r.connect_us).toBeGreaterThan(0);
      expect(r.join_us).toBeGreaterThan(0);
      for (const t of [r.connect_ticks, r.join_ticks]) expect(Number.isInteger(t.user) && Number.isInteger(t.system)).toBe(true);
    }
  }, 120_000);
});
