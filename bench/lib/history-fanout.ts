/**
 * Parts 1 and 2 of the history benchmark: the native load client's fan-out (one topic, every
 * socket subscribed, one publisher) on a topic with history (`room:`) and without (`bench:`),
 * with the nodes' CPU per broadcast and, through Redis, the commands and Redis CPU per broadcast.
 */
import { setTimeout as sleep } from "node:timers/promises";

import type { LocalCluster } from "./cluster-processes.js";
import { PhaseSampler } from "./cluster-counters.js";
import {
  idleRedisRate,
  type RedisDelta,
  redisDelta,
  type RedisSnapshot,
  redisSnapshot,
  withoutBackground,
} from "./history-redis-stats.js";
import { type HistorySetup, type Pinning, startNodes } from "./history-nodes.js";
import type { LoadReport, LoadRound } from "./load-report.js";
import { runNativeClient } from "./native-client.js";
import { BENCH_JOIN_PAYLOAD } from "./targets.js";

/** The demo app's two chat channels: the same handler, with and without history. */
export const TOPIC_PREFIX = { on: "room:", off: "bench:" } as const;

/** How long the cluster's background Redis traffic is measured before a run, ms. */
const IDLE_WINDOW_MS = 2000;
/** The nodes' first moments with Redis (subscriptions, the first liveness writes) stay out of it. */
const STARTUP_MS = 500;

export interface FanoutLoad {
  sockets: number;
  inflight: number[];
  warmupSeconds: number;
  durationSeconds: number;
  bodySize: number;
}

export interface FanoutRound {
  setup: string;
  history: boolean;
  inflight: number;
  deliveriesPerS: number;
  p50Ms: number;
  p99Ms: number;
  missing: number;
  /** user+sys CPU of all nodes over the measured window / broadcasts completed in it */
  nodeCpuMsPer1k: number;
}

/** Redis work of one client run (all its rounds, warm-ups included), background taken off. */
export interface RedisCost {
  history: boolean;
  broadcasts: number;
  work: RedisDelta;
  /** the idle rate that was taken off, per second */
  background: RedisDelta;
}

export interface FanoutResult {
  rounds: FanoutRound[];
  redis?: RedisCost;
}

/** One cluster, one client run with every in-flight round. */
export async function measureFanout(setup: HistorySetup, history: boolean, load: FanoutLoad, pinning: Pinning): Promise<FanoutResult> {
  const cluster = await startNodes(setup, pinning);
  try {
    // Measured before the client connects: afterwards its sockets' closing would be in it.
    const idle = setup.linked ? await idleRate(cluster) : undefined;
    const { report, sampler, redisWindow } = await runClient(cluster, history, load, pinning, setup.linked);
    const rounds = report.rounds.map((round) => toRound(setup, history, round, sampler));
    if (!idle || !redisWindow) return { rounds };
    const broadcasts = report.rounds.reduce((n, r) => n + r.broadcasts, 0);
    return { rounds, redis: { history, broadcasts, work: withoutBackground(redisWindow, idle), background: idle } };
  } finally {
    await cluster.stop();
  }
}

async function idleRate(cluster: LocalCluster): Promise<RedisDelta> {
  await sleep(STARTUP_MS);
  return idleRedisRate(cluster.redis, IDLE_WINDOW_MS);
}

interface ClientRun {
  report: LoadReport;
  sampler: PhaseSampler;
  /** Redis from "joined" (every join answered, before the first broadcast) to the client's exit */
  redisWindow?: RedisDelta;
}

async function runClient(cluster: LocalCluster, history: boolean, load: FanoutLoad, pinning: Pinning, linked: boolean): Promise<ClientRun> {
  const sampler = new PhaseSampler(cluster.nodePids, cluster.redis);
  let joined: Promise<RedisSnapshot> | undefined;
  const report = await runNativeClient(
    {
      port: cluster.port,
      path: "/socket/websocket?vsn=2.0.0&user=bench",
      protocol: "phoenix",
      joinPayload: BENCH_JOIN_PAYLOAD,
      topicPrefix: history ? TOPIC_PREFIX.on : TOPIC_PREFIX.off,
      sockets: load.sockets,
      topics: 1,
      inflight: load.inflight,
      warmupSeconds: load.warmupSeconds,
      durationSeconds: load.durationSeconds,
      bodySize: load.bodySize,
      core: pinning.client,
    },
    (phase, k) => {
      sampler.onPhase(phase, k);
      // The joins are out of the window: on a history topic each one runs a read script in Redis.
      // The client then waits half a second before the first broadcast, time enough for INFO.
      if (phase === "joined" && linked) {
        joined = redisSnapshot(cluster.redis);
        joined.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
      }
    },
  );
  checkJoins(report, history);
  if (!joined) return { report, sampler };
  // After the client's exit every broadcast it sent is done: the drain waited for the deliveries.
  return { report, sampler, redisWindow: redisDelta(await joined, await redisSnapshot(cluster.redis)) };
}

/** A run whose sockets did not all join would measure a smaller fan-out than it says. */
function checkJoins(report: LoadReport, history: boolean): void {
  const { joined_sockets, errors } = report.join;
  if (joined_sockets !== report.sockets || errors > 0) {
    throw new Error(`history ${history ? "on" : "off"}: ${joined_sockets} of ${report.sockets} sockets joined, ${errors} join errors`);
  }
}

function toRound(setup: HistorySetup, history: boolean, round: LoadRound, sampler: PhaseSampler): FanoutRound {
  const cpuMs = sampler.windowCpuMs(round.inflight).reduce((a, b) => a + b, 0);
  const completed = round.broadcasts_completed_in_window;
  return {
    setup: setup.label,
    history,
    inflight: round.inflight,
    deliveriesPerS: round.deliveries_per_s,
    p50Ms: round.latency_us.p50 / 1000,
    p99Ms: round.latency_us.p99 / 1000,
    missing: round.missing,
    nodeCpuMsPer1k: completed > 0 ? (cpuMs / completed) * 1000 : 0,
  };
}
