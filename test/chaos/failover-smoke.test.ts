/**
 * The failover benchmark (`npm run bench -- failover`) in small, on the chaos machinery
 * (bench/lib/chaos/): two node processes with WORKERS=2 and a redis-server, 200 official
 * phoenix.js clients in ten history rooms of the demo, recovering with README's recipe and
 * pushing all along; kill -9 of one node. Its clients reconnect to the survivor and rejoin with
 * `_since`. Nothing waits a fixed time: the fault ends once every client is joined again on the
 * survivor (which then holds all 200 sockets), and a fence (one message per room) has reached
 * every client before the accounting. Then every loss count (missing while connected, missing
 * across a recovered rejoin, rejoins refused, duplicates, out of order) must be 0.
 */
import { describe, expect, it } from "vitest";

import { runChaos } from "../../bench/lib/chaos/chaos-run.js";
import type { FaultContext, Pacing } from "../../bench/lib/chaos/faults.js";
import { metricOf } from "../support/metrics.js";
import { waitFor } from "../support/wait.js";
import { expectNothingLost } from "./nothing-lost.js";

const CLIENTS = 200;
const ANSWERED_BEFORE_FAULT = 20;
const WAIT_MS = 60_000;

/** Each survivor's figures once the killed node's clients are back on it. */
const survivor: { sockets?: number; reads?: number; storeReads?: number } = {};

async function settled(context: FaultContext): Promise<void> {
  const since = Date.now();
  await waitFor(() => context.fleet.answeredSince(since) >= ANSWERED_BEFORE_FAULT, `${ANSWERED_BEFORE_FAULT} pushes answered`, WAIT_MS);
  await context.fleet.fence(WAIT_MS);
}

const observed: Pacing = {
  beforeFault: (context) => settled(context),
  afterFaults: (context) => settled(context),
  async nodeDown(context) {
    await waitFor(() => context.fleet.allJoined(), "every client to be joined again on the survivor", WAIT_MS);
    const node = context.cluster.nodes[1];
    const health = await node.waitHealth((h) => h.sockets >= CLIENTS, `to hold all ${CLIENTS} sockets`);
    survivor.sockets = health.sockets;
    survivor.reads = await metricOf({ port: node.port }, "cinder_history_reads_total");
    survivor.storeReads = await metricOf({ port: node.port }, "cinder_history_store_reads_total");
  },
  nodeStopped: async () => {},
  redisDown: async () => {},
};

describe("failover, small: kill -9 of one of two WORKERS=2 nodes", () => {
  it("every client of the killed node comes back on the survivor with nothing missing and nothing twice", async () => {
    const result = await runChaos(
      {
        nodes: [
          { name: "a", workers: 2 },
          { name: "b", workers: 2 },
        ],
        clients: CLIENTS,
        rooms: 10,
        rate: 40,
        faults: ["kill"],
        targets: { kill: 0, stop: 1, drain: 0 },
        settleMs: 2000,
      },
      observed,
    );
    expectNothingLost(result);
    expect(survivor.sockets).toBeGreaterThanOrEqual(CLIENTS);
    // Every rejoin read the history through the survivor's main thread; shared reads never exceed them.
    expect(survivor.reads).toBeGreaterThanOrEqual(CLIENTS / 2);
    expect(survivor.storeReads).toBeLessThanOrEqual(survivor.reads as number);
  }, 240_000);
});
