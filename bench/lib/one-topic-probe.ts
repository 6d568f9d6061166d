/**
 * What the one-topic scenario samples while the load client runs: the server processes' RSS,
 * CPU time and open files, the client processes' RSS, redis-server's RSS, CPU and traffic, and
 * the kernel's memory, at the client's phases. Everything here reads /proc synchronously (one
 * read per process), except Redis's INFO, which is asked at two phases and awaited at the end.
 */
import type { Redis } from "ioredis";

import { publishCalls } from "./cluster-processes.js";
import { type KernelMemorySample, sampleKernelMemory } from "./kernel-memory.js";
import { trySampleProcess } from "./proc-stats.js";
import { type TcpCounters, sampleTcpCounters } from "./tcp-counters.js";
import { openFiles, processTree } from "./process-tree.js";

export interface ProbedServers {
  /** the server processes (not redis-server) */
  pids: number[];
  redis: Redis;
  redisPid: number;
}

export interface RedisCounters {
  publishCalls: number;
  netOutputBytes: number;
  /** connections subscribed to a channel (one per server process) */
  pubsubClients: number;
}

export interface Snapshot {
  serverRssBytes: number;
  serverCpuSeconds: number;
  clientRssBytes: number;
  redisRssBytes: number;
  redisCpuSeconds: number;
  /** open files of the fullest and emptiest server process (its sockets, plus a few dozen of its own) */
  maxServerFiles: number;
  minServerFiles: number;
  serverFiles: number;
  kernel: KernelMemorySample;
  tcp: TcpCounters;
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

async function redisCounters(redis: Redis): Promise<RedisCounters> {
  const stats = await redis.info("stats");
  const clients = (await redis.call("CLIENT", "LIST", "TYPE", "pubsub")) as string;
  return {
    publishCalls: await publishCalls(redis),
    netOutputBytes: Number(/total_net_output_bytes:(\d+)/.exec(stats)?.[1] ?? 0),
    pubsubClients: clients.split("\n").filter((line) => line.trim() !== "").length,
  };
}

export class OneTopicProbe {
  private clientPid: number | undefined;
  readonly snapshots = new Map<string, Snapshot>();
  private readonly redisAt = new Map<string, Promise<RedisCounters>>();
  lastPhase = "starting";

  constructor(private readonly servers: ProbedServers) {}

  setClient(pid: number): void {
    this.clientPid = pid;
  }

  /**
   * `full` also counts every server's open files and walks the client's processes: about a
   * second at a million sockets, so not inside a measured window (CPU figures only there).
   */
  snapshot(full = true): Snapshot {
    const server = this.servers.pids.map((pid) => trySampleProcess(pid));
    const files = full ? this.servers.pids.map(openFiles) : [];
    const client = full && this.clientPid !== undefined ? processTree(this.clientPid).map((pid) => trySampleProcess(pid)) : [];
    const redis = trySampleProcess(this.servers.redisPid);
    return {
      serverRssBytes: sum(server.map((s) => s?.rssBytes ?? 0)),
      serverCpuSeconds: sum(server.map((s) => s?.cpuSeconds ?? 0)),
      clientRssBytes: sum(client.map((s) => s?.rssBytes ?? 0)),
      redisRssBytes: redis?.rssBytes ?? 0,
      redisCpuSeconds: redis?.cpuSeconds ?? 0,
      maxServerFiles: Math.max(0, ...files),
      minServerFiles: files.length > 0 ? Math.min(...files) : 0,
      serverFiles: sum(files),
      kernel: sampleKernelMemory(),
      tcp: sampleTcpCounters(),
    };
  }

  /** The client's phase listener: "connecting", "connected", "joined", "measure k", "measured k", "done". */
  onPhase(phase: string, k: number | undefined): void {
    const key = k === undefined ? phase : `${phase} ${k}`;
    this.lastPhase = key;
    if (["connecting", "joined", "done"].includes(phase)) this.snapshots.set(key, this.snapshot());
    // Between two phases the client goes straight on with: CPU figures only.
    if (phase === "connected" || phase === "measure" || phase === "measured") this.snapshots.set(key, this.snapshot(false));
    if (phase === "joined" || phase === "done") {
      const counters = redisCounters(this.servers.redis);
      counters.catch(() => {}); // awaited (and reported) in redisBetween
      this.redisAt.set(phase, counters);
    }
  }

  /** Redis's counters at "joined" and at "done", once both are in. */
  async redisBetween(): Promise<{ joined: RedisCounters; done: RedisCounters } | undefined> {
    const joined = this.redisAt.get("joined");
    const done = this.redisAt.get("done");
    if (!joined || !done) return undefined;
    return { joined: await joined, done: await done };
  }
}
