/**
 * The chaos benchmark (`npm run bench -- chaos`, bench/lib/chaos/) in small: three node
 * processes (one with WORKERS=2) and a redis-server, 18 official phoenix.js clients in two rooms
 * of the demo recovering with README's recipe, pushing all along, through the same faults in
 * turn: Redis killed and restarted empty, SIGTERM drain of the WORKERS=2 node (restarted), kill
 * -9 of a node (restarted), SIGSTOP of a node, CLIENT KILL TYPE pubsub. Nothing waits a fixed
 * time: a fault ends on what can be observed (a process exit, /health, every client joined
 * again, pushes answered, Redis's PING), and before each fault a fence (one message per room)
 * has reached every client. Then every loss count of the accounting (see
 * bench/lib/chaos/accounting.ts) must be 0.
 */
import { describe, it } from "vitest";

import { runChaos } from "../../bench/lib/chaos/chaos-run.js";
import type { FaultContext, Pacing } from "../../bench/lib/chaos/faults.js";
import { waitFor } from "../support/wait.js";
import { expectNothingLost } from "./nothing-lost.js";

/** Pushes answered since a fault began, before it may end: traffic went on through it. */
const ANSWERED_DURING_FAULT = 10;
/** Pushes answered before each fault. */
const ANSWERED_BEFORE_FAULT = 20;
const WAIT_MS = 30_000;

/** The last fault is over: its ghosts are gone, pushes are answered, and a fence reached every client. */
async function settled(context: FaultContext): Promise<void> {
  await Promise.all(context.faults.map((fault) => fault.ghosts));
  const since = Date.now();
  await waitFor(() => context.fleet.answeredSince(since) >= ANSWERED_BEFORE_FAULT, `${ANSWERED_BEFORE_FAULT} pushes answered`, WAIT_MS);
  // A fence that does not reach everyone is a loss the accounting counts; the run goes on.
  await context.fleet.fence(WAIT_MS);
}

/** Each fault lasts until something observable says the cluster noticed it and traffic went on. */
const observed: Pacing = {
  beforeFault: (context) => settled(context),
  afterFaults: (context) => settled(context),
  async nodeDown(context) {
    await waitFor(() => context.fleet.allJoined(), "every client to be joined on the other nodes", WAIT_MS);
  },
  async nodeStopped(context, _node, since) {
    await waitFor(() => context.fleet.answeredSince(since) >= ANSWERED_DURING_FAULT, "pushes answered while the node is stopped", WAIT_MS);
  },
  async redisDown(context, since) {
    for (const node of context.cluster.nodes) await node.waitHealth((health) => health.status === "degraded", "to see Redis gone");
    await waitFor(() => context.fleet.answeredSince(since) >= ANSWERED_DURING_FAULT, "pushes answered while Redis is down", WAIT_MS);
  },
};

describe("chaos, small: every fault of the chaos benchmark, one after the other", () => {
  it("loses nothing: Redis restarted empty, drain of the WORKERS=2 node, kill -9, SIGSTOP, pub/sub connections killed", async () => {
    const result = await runChaos(
      {
        nodes: [
          { name: "a", workers: 1 },
          { name: "b", workers: 1 },
          { name: "c", workers: 2 },
        ],
        clients: 18,
        rooms: 2,
        rate: 40,
        faults: ["redis", "drain", "kill", "stop", "pubsub"],
        targets: { kill: 0, stop: 1, drain: 2 },
        settleMs: 2000,
      },
      observed,
    );
    expectNothingLost(result);
  }, 240_000);
});
