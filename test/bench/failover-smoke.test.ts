/**
 * The failover benchmark at a tiny size, with its native clients (bench/native/failover/): two
 * WORKERS=2 nodes through Redis, 200 clients in two processes over 10 history rooms, kill -9 of
 * one node; the half on it must come back on the survivor with every offset once.
 */
import { describe, expect, it } from "vitest";

import { measureFailover } from "../../bench/scenarios/failover.js";

const CLIENTS = 200;

describe("failover bench, tiny", () => {
  it("brings every client of the killed node back on the survivor, nothing missing or twice, latencies timed", async () => {
    const result = await measureFailover("new", { clients: CLIENTS, rooms: 10, rate: 40, workers: 2, beforeMs: 1000, afterMs: 1000, processes: 2, serverCores: "0" });
    expect(result.backMs).not.toBeNull();
    expect(result.moved).toBe(CLIENTS / 2);
    expect(result.survivorSockets).toBeGreaterThanOrEqual(CLIENTS);
    expect(result).toMatchObject({ missing: 0, duplicated: 0, notRecovered: 0, recovered: CLIENTS / 2, epochChanges: 0 });
    expect(result.published.sent).toBeGreaterThan(0);
    expect(result.published.ok).toBe(result.published.sent);
    // Every client received every push of its room (CLIENTS / rooms a room) and timed the live ones.
    const timed = Object.values(result.latency).reduce((n, phase) => n + phase.count, 0) + Object.values(result.movedLatency).reduce((n, phase) => n + phase.count, 0);
    expect(timed + result.replayed).toBe((result.published.sent * CLIENTS) / 10);
  }, 180_000);
});
