/** The benchmark's pacing: faults start `spacingMs` apart from the start of the traffic, and last fixed times. */
import { setTimeout as sleep } from "node:timers/promises";

import type { Pacing } from "./faults.js";

export interface Timings {
  /** From one fault's start to the next (and before the first, and after the last). */
  spacingMs: number;
  /** From a kill -9 until the node is started again. */
  restartAfterMs: number;
  /** How long a node stays stopped. */
  stopMs: number;
  /** How long Redis stays down. */
  redisDownMs: number;
}

const until = (at: number) => sleep(Math.max(0, at - Date.now()));

export function timedPacing(timings: Timings): Pacing {
  return {
    beforeFault: (_context, index, trafficStart) => until(trafficStart + (index + 1) * timings.spacingMs),
    afterFaults: (_context, count, trafficStart) => until(trafficStart + (count + 1) * timings.spacingMs),
    nodeDown: (_context, _node, since) => until(since + timings.restartAfterMs),
    nodeStopped: (_context, _node, since) => until(since + timings.stopMs),
    redisDown: (_context, since) => until(since + timings.redisDownMs),
  };
}
