/**
 * Counters the cluster benchmark reads while the load client runs: CPU time of the Cinder
 * node processes (/proc/<pid>/stat) and the subscribers of the Redis broadcast channel.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";

import { isInternalTopic } from "../../server/fabric/internal-topics.js";
import { publishCalls } from "./cluster-processes.js";
import type { PhaseListener } from "./native-client.js";

/** The Redis fabric's broadcast channels are `cinder:t:<topic>` (server/pubsub/broker-redis.ts). */
const BROADCAST_PREFIX = "cinder:t:";
const BROADCAST_CHANNELS = `${BROADCAST_PREFIX}*`;
/** The other channels nodes publish on: presence gossip, `cinder:presence:<shard>[:<replica>]`. */
const GOSSIP_CHANNELS = "cinder:presence*";

let ticksPerSecond: number | undefined;

/** /proc/<pid>/stat counts CPU time in clock ticks; ask the system how long one is. */
function clockTicksPerSecond(): number {
  ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
  if (!(ticksPerSecond > 0)) throw new Error("getconf CLK_TCK gave no tick rate");
  return ticksPerSecond;
}

/** User + system CPU time of all threads of process `pid` so far, ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the ")" that closes the command name start at field 3 (state); utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond()) * 1000;
}

/**
 * Connections subscribed to the broadcast channel (PUBSUB NUMSUB); 0 when there is none.
 * Redis 7 keeps no count of the pub/sub messages it delivers, so the benchmark multiplies
 * broadcast PUBLISH calls by this: a plain PUBLISH goes to every subscriber of its channel.
 * The benchmark uses one topic, so there is one broadcast channel besides Cinder's own topics.
 */
export async function broadcastChannelSubscribers(redis: Redis): Promise<number> {
  // Every node also listens to Cinder's own topics (force-disconnects), which carry no broadcast here.
  const all = (await redis.pubsub("CHANNELS", BROADCAST_CHANNELS)) as string[];
  const channels = all.filter((channel) => !isInternalTopic(channel.slice(BROADCAST_PREFIX.length)));
  if (channels.length === 0) return 0;
  if (channels.length > 1) throw new Error(`expected one broadcast channel, Redis has ${channels.join(", ")}`);
  const numsub = await redis.pubsub("NUMSUB", String(channels[0]));
  return Number(numsub[1] ?? 0);
}

/**
 * Counts PUBLISH calls on broadcast channels. Redis only counts PUBLISH calls of any channel,
 * and with several nodes (or workers) presence gossip goes on even with presence off:
 * heartbeats, a few a second, enough to add percents at 10,000 subscribers where broadcasts
 * are few. So the gossip is counted on a pattern subscription of our own and taken off. Our
 * subscription does not match broadcast channels: the broadcast path is left as it is.
 */
export class BroadcastPublishCounter {
  private gossip = 0;
  private gossipBefore = 0;
  private publishesBefore = 0;

  private constructor(private readonly redis: Redis, private readonly subscriber: Redis) {
    subscriber.on("pmessageBuffer", () => void this.gossip++);
  }

  static async start(redis: Redis): Promise<BroadcastPublishCounter> {
    const subscriber = redis.duplicate();
    const counter = new BroadcastPublishCounter(redis, subscriber);
    try {
      await subscriber.psubscribe(GOSSIP_CHANNELS);
      counter.publishesBefore = await publishCalls(redis);
      counter.gossipBefore = counter.gossip;
    } catch (err) {
      subscriber.disconnect();
      throw err;
    }
    return counter;
  }

  /** Broadcast PUBLISH calls since start. */
  async count(): Promise<number> {
    const publishes = (await publishCalls(this.redis)) - this.publishesBefore;
    // A reply comes after every message Redis sent before it: gossip counted so far is all there is.
    await this.subscriber.ping();
    return publishes - (this.gossip - this.gossipBefore);
  }

  close(): void {
    this.subscriber.disconnect();
  }
}

type Settled<T> = T | Error;

/** Settles to an Error rather than rejecting, so no rejection goes unhandled while it waits. */
function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
}

/**
 * Listens to the load client's phases. At "measure <k>" and "measured <k>", the bounds of
 * round k's measured window, it reads the nodes' CPU time at once (synchronously, so the
 * window is the client's). At every "measure <k>" it also asks Redis for the subscribers of
 * the broadcast channel, so they are counted under load.
 *
 * PUBLISH calls are not counted per window (see BroadcastPublishCounter for the whole run):
 * a Redis sample lands a round trip after its phase, while broadcasts are already being
 * published, which skews a count over a window of a few dozen broadcasts.
 */
export class PhaseSampler {
  private readonly cpu = new Map<string, number[]>();
  private readonly subscriberSamples: Array<Promise<Settled<number>>> = [];

  constructor(
    private readonly nodePids: readonly number[],
    private readonly redis: Redis,
  ) {}

  readonly onPhase: PhaseListener = (phase, k) => {
    if (phase !== "measure" && phase !== "measured") return;
    this.cpu.set(`${phase} ${k}`, this.nodePids.map(cpuMs));
    if (phase === "measure") this.subscriberSamples.push(settle(broadcastChannelSubscribers(this.redis)));
  };

  /** CPU ms each node used in the measured window of the round with this in-flight limit. */
  windowCpuMs(inflight: number): number[] {
    const start = this.cpu.get(`measure ${inflight}`);
    const end = this.cpu.get(`measured ${inflight}`);
    if (!start || !end) throw new Error(`no CPU samples for the window of round ${inflight}`);
    return end.map((ms, i) => ms - start[i]);
  }

  /** Mean of the broadcast channel's subscriber counts sampled under load. */
  async subscribers(): Promise<number> {
    const samples = await Promise.all(this.subscriberSamples);
    if (samples.length === 0) return 0;
    let sum = 0;
    for (const s of samples) {
      if (s instanceof Error) throw s;
      sum += s;
    }
    return sum / samples.length;
  }
}
