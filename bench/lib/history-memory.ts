/**
 * Part 4 of the history benchmark: what a retained message costs. One node fills `topics` ×
 * `messages` broadcasts on `room:m<i>` (the demo app keeps 200 per topic); before and after,
 * the node's RSS and its V8 heap after a full GC and, with Redis, used_memory and the size of
 * one topic's stream.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";

import { historyFrame, newEpoch } from "../../server/history/history-frame.js";
import type { LocalCluster } from "./cluster-processes.js";
import { heapAfterGc, inspectFlag } from "./history-inspector.js";
import { type HistorySetup, type Pinning, pinSelf, rssBytes, startNodes } from "./history-nodes.js";
import { keyBytes, usedMemory } from "./history-redis-stats.js";
import { JOIN_PARAMS, openSockets, type PhoenixSocket, within } from "./history-ws.js";
import { freePort } from "./server-process.js";

/** The demo app's `room:*` history size. */
export const DEMO_HISTORY_SIZE = 200;
/** Joins one socket may hold (MAX_CHANNELS_PER_SOCKET's default). */
const TOPICS_PER_SOCKET = 100;
/** Far above what the fill keeps, so the node's byte cap (64 MiB by default) evicts nothing. */
const HISTORY_MAX_BYTES = String(4 * 1024 * 1024 * 1024);
/** How long the filling client's joins may take together. */
const JOIN_TIMEOUT_MS = 30_000;
/** How long one round of the fill may take to come back. */
const ROUND_TIMEOUT_MS = 10_000;
/** Lets the last writes and frees settle before a sample. */
const SETTLE_MS = 500;

export interface MemoryOptions {
  topics: number;
  messages: number;
  bodySize: number;
}

export interface MemoryResult {
  setup: string;
  /** messages the history holds after the fill: topics × min(messages, size), read back */
  retained: number;
  /** characters of one stored frame (`[null,null,"room:m0","new_msg",{…,"_o":1,"_e":"ijKm6HBL"}]`) */
  frameChars: number;
  rssPerMessage: number;
  heapPerMessage: number;
  redis?: RedisMemory;
}

export interface RedisMemory {
  /** used_memory after − before, per retained message */
  usedPerMessage: number;
  /** MEMORY USAGE of one topic's stream key / its XLEN */
  streamPerEntry: number;
  /** MEMORY USAGE of one topic's :seq and :epoch keys together */
  topicKeysBytes: number;
}

interface Sample {
  rss: number;
  heap: number;
  redisUsed: number;
}

export async function measureMemory(setup: HistorySetup, o: MemoryOptions, pinning: Pinning): Promise<MemoryResult> {
  const inspectorPort = await freePort();
  const key = randomBytes(12).toString("hex");
  const env = { NODE_OPTIONS: inspectFlag(inspectorPort), HISTORY_MAX_BYTES, BROADCAST_KEY: key };
  const cluster = await startNodes(setup, pinning, env);
  const unpin = pinSelf(pinning.client);
  try {
    const topics = Array.from({ length: o.topics }, (_, i) => `room:m${i}`);
    const filler = await Filler.start(cluster.port, topics);
    try {
      const sample = (): Promise<Sample> => takeSample(cluster, inspectorPort, setup.linked);
      const before = await sample();
      await filler.fill(o.messages, o.bodySize);
      const after = await sample();
      const retained = await readBack(cluster.port, key, topics, Math.min(o.messages, DEMO_HISTORY_SIZE));
      const redis = setup.linked ? await redisMemory(cluster.redis, topics[0], after.redisUsed - before.redisUsed, retained) : undefined;
      return {
        setup: setup.label,
        retained,
        frameChars: frameChars(topics[0], o.bodySize, o.messages),
        rssPerMessage: (after.rss - before.rss) / retained,
        heapPerMessage: (after.heap - before.heap) / retained,
        redis,
      };
    } finally {
      await filler.close();
    }
  } finally {
    unpin();
    await cluster.stop();
  }
}

async function takeSample(cluster: LocalCluster, inspectorPort: number, linked: boolean): Promise<Sample> {
  await sleep(SETTLE_MS);
  // The GC first: RSS then holds what is live plus what the heap keeps mapped.
  const heap = (await heapAfterGc(inspectorPort)).heapUsed;
  return { heap, rss: rssBytes(cluster.nodePids[0]), redisUsed: linked ? await usedMemory(cluster.redis) : 0 };
}

/** The stored frame of the last message of a topic, as the server builds it. */
function frameChars(topic: string, bodySize: number, offset: number): number {
  return historyFrame(topic, "new_msg", JSON.stringify({ user: JOIN_PARAMS.user, body: "m".repeat(bodySize) }), offset, newEpoch()).length;
}

/**
 * Messages the history holds, from GET /api/history: every topic is expected to hold `each`;
 * the first and the last topic are read back and must, else the figures would be per nothing.
 */
async function readBack(port: number, key: string, topics: string[], each: number): Promise<number> {
  for (const topic of [topics[0], topics[topics.length - 1]]) {
    const url = `http://127.0.0.1:${port}/api/history?topic=${encodeURIComponent(topic)}&since=0&limit=1000`;
    const response = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
    const page = (await response.json()) as { messages?: unknown[] };
    const held = page.messages?.length ?? 0;
    if (held !== each) throw new Error(`${topic} holds ${held} messages, expected ${each} (HTTP ${response.status})`);
  }
  return topics.length * each;
}

async function redisMemory(redis: Redis, topic: string, usedDelta: number, retained: number): Promise<RedisMemory> {
  const base = `cinder:h:{${topic}}`;
  const entries = await redis.xlen(`${base}:s`);
  const stream = await keyBytes(redis, `${base}:s`);
  const topicKeysBytes = (await keyBytes(redis, `${base}:seq`)) + (await keyBytes(redis, `${base}:epoch`));
  return { usedPerMessage: usedDelta / retained, streamPerEntry: entries > 0 ? stream / entries : 0, topicKeysBytes };
}

/** Sockets joined to every topic (up to 100 per socket) that push the fill and count its echoes. */
class Filler {
  private echoes = 0;
  private waiter: { until: number; resolve: () => void } | undefined;

  private constructor(
    private readonly sockets: PhoenixSocket[],
    private readonly joined: Array<{ socket: PhoenixSocket; topic: string; joinRef: string }>,
  ) {
    for (const socket of sockets) {
      socket.onFrame = (frame) => {
        if (frame[3] === "new_msg") this.echo();
      };
    }
  }

  static async start(port: number, topics: string[]): Promise<Filler> {
    const sockets = await openSockets(port, Math.ceil(topics.length / TOPICS_PER_SOCKET));
    const joins = Promise.all(
      topics.map(async (topic, i) => {
        const socket = sockets[Math.floor(i / TOPICS_PER_SOCKET)];
        const { joinRef } = await socket.join(topic, { ...JOIN_PARAMS });
        return { socket, topic, joinRef };
      }),
    );
    const joined = await within(joins, JOIN_TIMEOUT_MS, `joins of ${topics.length} topics`);
    return new Filler(sockets, joined);
  }

  /**
   * `messages` rounds of one push per topic. Each round waits for its broadcasts to come back
   * (numbered, so stored: with Redis, after the script ran), which keeps the backlog bounded.
   */
  async fill(messages: number, bodySize: number): Promise<void> {
    for (let r = 0; r < messages; r++) {
      const body = `${r}:`.padEnd(bodySize, "m");
      const back = this.reach(this.echoes + this.joined.length);
      for (const { socket, topic, joinRef } of this.joined) socket.push(topic, joinRef, "new_msg", { body });
      await within(back, ROUND_TIMEOUT_MS, `round ${r + 1} of the fill`);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.sockets.map((s) => s.close()));
  }

  private reach(echoes: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = { until: echoes, resolve };
    });
  }

  private echo(): void {
    this.echoes++;
    if (this.waiter && this.echoes >= this.waiter.until) {
      this.waiter.resolve();
      this.waiter = undefined;
    }
  }
}
