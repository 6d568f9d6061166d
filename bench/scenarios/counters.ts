/**
 * Counters and presence counts. Medians of --runs repetitions; loopback only; bounded.
 *   npm run bench -- counters [--runs 3] [--counters 10000] [--seconds 5]
 * - increments/s one node takes (memory; Redis with its coalescing and 1 s flush)
 * - Redis commands/s and CPU at 100,000 increments/s over --counters counters
 * - memory per counter, in Redis and in the node
 * - read latency (count and distinct actors over a full 6 h window)
 * - presence_count vs presence_diff for a client of a 10,000-member topic with 100 joins+leaves/s
 * redis-server runs pinned to core 0; run node with --expose-gc for exact node memory figures.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { startLocalCluster } from "../lib/cluster-processes.js";
import { counterKeyOf } from "../../server/counters/counter-store-redis.js";
import { DEFAULT_WINDOW } from "../../server/counters/counter-window.js";
import { memoryRig, redisRig, type CounterRig } from "../lib/counter-rig.js";
import { fmtBytes, fmtMicros, fmtRate } from "../lib/format.js";
import { keyBytes, redisDelta, redisSnapshot, totalCalls, usedMemory } from "../lib/history-redis-stats.js";
import { presenceCountCost, type PresenceCountCost } from "../lib/presence-count-cost.js";
import { median } from "../lib/stats.js";

interface Options {
  runs: number;
  counters: number;
  seconds: number;
}

function parseOptions(args: string[]): Options {
  const options: Options = { runs: 3, counters: 10_000, seconds: 5 };
  for (let i = 0; i < args.length; i++) {
    const match = /^--(runs|counters|seconds)(?:=(.*))?$/.exec(args[i]);
    if (!match) throw new Error(`unknown flag ${args[i]}`);
    const value = Number(match[2] ?? args[++i]);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`--${match[1]} needs a positive integer`);
    options[match[1] as keyof Options] = value;
  }
  return options;
}

const gc = (globalThis as { gc?: () => void }).gc;
function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

/** As many increments as one thread makes in `seconds` over `keys` counters (flushes included). */
async function incrementRate(rig: CounterRig, keys: number, seconds: number): Promise<number> {
  let done = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    for (let i = 0; i < 10_000; i++) rig.counters.incr(`room:${(done + i) % keys}`);
    done += 10_000;
    await new Promise((resolve) => setImmediate(resolve)); // let flushes run, as a serving node would
  }
  return done / ((performance.now() - started) / 1000);
}

/** Exactly `rate` increments/s over `keys` counters for `seconds`; what Redis did meanwhile. */
async function redisLoad(rig: CounterRig, redis: Redis, keys: number, rate: number, seconds: number) {
  await sleep(1100); // start from an empty pending set
  const before = await redisSnapshot(redis);
  const started = performance.now();
  let done = 0;
  while (performance.now() - started < seconds * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    for (; done < due; done++) rig.counters.incr(`room:${done % keys}`);
    await sleep(5);
  }
  await sleep(1100); // the last flush
  const delta = redisDelta(before, await redisSnapshot(redis));
  const sent = (delta.calls.get("evalsha") ?? 0) + (delta.calls.get("eval") ?? 0);
  return { sentPerSecond: sent / seconds, callsPerSecond: totalCalls(delta) / seconds, cpuShare: delta.cpuSeconds / seconds, achieved: done / seconds };
}

/** Latency of `reads` reads one after another, µs: p50 and p99. */
async function readLatency(read: (i: number) => Promise<number>, reads: number): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < reads; i++) {
    const started = performance.now();
    await read(i);
    samples.push((performance.now() - started) * 1000);
  }
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(samples.length / 2)], p99: samples[Math.floor(samples.length * 0.99)] };
}

/** Fills `keys` counters with every bucket of a 6 h window (and `actors` distinct actors per bucket) in Redis. */
async function fillRedisWindows(redis: Redis, keys: number, actors: number): Promise<void> {
  const now = Math.floor(Date.now() / DEFAULT_WINDOW.bucketMs);
  for (let k = 0; k < keys; k++) {
    const hash = counterKeyOf(`full:${k}`, DEFAULT_WINDOW);
    const pipeline = redis.pipeline();
    for (let b = now - DEFAULT_WINDOW.buckets + 1; b <= now; b++) {
      pipeline.hset(hash, String(b), "17");
      if (actors > 0) pipeline.pfadd(`${hash}:u:${b}`, ...Array.from({ length: actors }, (_, a) => `user-${a}-${b}`));
    }
    await pipeline.exec();
  }
}

export async function run(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const { runs, counters: keys, seconds } = options;
  const cluster = await startLocalCluster(0, 0);
  const redis = cluster.redis;
  const rows: Array<[string, string]> = [];
  try {
    // ── increments/s ──
    const memoryRates: number[] = [];
    const redisRates: number[] = [];
    for (let r = 0; r < runs; r++) {
      const memory = memoryRig();
      memoryRates.push(await incrementRate(memory, keys, seconds));
      await memory.close();
      const linked = await redisRig(cluster.redisUrl);
      redisRates.push(await incrementRate(linked, keys, seconds));
      await linked.close();
      await redis.flushall();
    }
    rows.push([`increments/s, one thread, ${fmtRate(keys)} counters, memory`, fmtRate(median(memoryRates))]);
    rows.push([`increments/s, one thread, ${fmtRate(keys)} counters, Redis (coalesced, 1 s flush)`, fmtRate(median(redisRates))]);

    // ── Redis at 100,000 increments/s ──
    const loads: Array<Awaited<ReturnType<typeof redisLoad>>> = [];
    for (let r = 0; r < runs; r++) {
      const linked = await redisRig(cluster.redisUrl);
      loads.push(await redisLoad(linked, redis, keys, 100_000, seconds));
      await linked.close();
      await redis.flushall();
    }
    rows.push([`Redis commands/s sent at 100k increments/s over ${fmtRate(keys)} counters`, fmtRate(median(loads.map((l) => l.sentPerSecond)))]);
    rows.push(["  … counting the commands inside the scripts (HINCRBY, PEXPIRE, …)", fmtRate(median(loads.map((l) => l.callsPerSecond)))]);
    rows.push(["  … redis-server CPU", `${(median(loads.map((l) => l.cpuShare)) * 100).toFixed(1)} % of a core`]);
    rows.push(["  … increments/s achieved", fmtRate(median(loads.map((l) => l.achieved)))]);

    // ── memory per counter ──
    const sample = 1000;
    const before = await usedMemory(redis);
    await fillRedisWindows(redis, sample, 0);
    const perCounter = (await usedMemory(redis)) - before;
    rows.push(["Redis memory per counter, 72 buckets filled (used_memory)", fmtBytes(perCounter / sample)]);
    rows.push(["Redis memory per counter, 72 buckets (MEMORY USAGE of its hash)", fmtBytes(await keyBytes(redis, counterKeyOf("full:0", DEFAULT_WINDOW)))]);
    await redis.flushall();
    const beforeActors = await usedMemory(redis);
    await fillRedisWindows(redis, 100, 20);
    rows.push(["Redis memory per counter with 20 actors in each of 72 buckets (sparse HLLs)", fmtBytes(((await usedMemory(redis)) - beforeActors) / 100)]);
    const oneDense = `${counterKeyOf("dense", DEFAULT_WINDOW)}:u:1`;
    for (let i = 0; i < 20_000; i += 1000) await redis.pfadd(oneDense, ...Array.from({ length: 1000 }, (_, a) => `d-${i + a}`));
    rows.push(["  … one bucket's HLL once dense (20,000 actors)", fmtBytes(await keyBytes(redis, oneDense))]);

    const memory = memoryRig();
    const heapBefore = heapUsed();
    const now = Math.floor(Date.now() / DEFAULT_WINDOW.bucketMs);
    for (let k = 0; k < keys; k++) for (let b = now - 71; b <= now; b++) memory.store.incr(`full:${k}`, DEFAULT_WINDOW, b, 17);
    rows.push([`node memory per counter, 72 buckets (heap${gc ? "" : ", no --expose-gc: rough"})`, fmtBytes((heapUsed() - heapBefore) / keys)]);

    // ── read latency ──
    await redis.flushall();
    await fillRedisWindows(redis, 100, 20);
    const linked = await redisRig(cluster.redisUrl);
    const countLatency = await readLatency((i) => linked.counters.read(`full:${i % 100}`), 2000);
    const uniquesLatency = await readLatency((i) => linked.counters.uniques(`full:${i % 100}`), 1000);
    await linked.close();
    const memoryLatency = await readLatency((i) => memory.counters.read(`full:${i % keys}`), 20_000);
    rows.push(["read latency, Redis, count over 72 buckets (p50 / p99)", `${fmtMicros(countLatency.p50)} / ${fmtMicros(countLatency.p99)}`]);
    rows.push(["read latency, Redis, distinct actors over 72 HLLs (p50 / p99)", `${fmtMicros(uniquesLatency.p50)} / ${fmtMicros(uniquesLatency.p99)}`]);
    rows.push(["read latency, memory, count over 72 buckets (p50 / p99)", `${fmtMicros(memoryLatency.p50)} / ${fmtMicros(memoryLatency.p99)}`]);
    await memory.close();
  } finally {
    await cluster.stop();
  }

  // ── presence_count vs presence_diff ──
  const costs: PresenceCountCost[] = [];
  for (let r = 0; r < runs; r++) costs.push(await presenceCountCost(10_000, 100, seconds));
  const per = (pick: (c: PresenceCountCost) => number) => median(costs.map((c) => pick(c) / c.seconds));
  rows.push(["10,000 members, 100 joins+leaves/s: list client, frames/s (presence_diff)", per((c) => c.list.frames).toFixed(1)]);
  rows.push(["  … bytes/s", fmtBytes(per((c) => c.list.bytes))]);
  rows.push(["  … its join's presence_state", fmtBytes(median(costs.map((c) => c.listJoinBytes)))]);
  rows.push(["same, count client (presence_count): frames/s", per((c) => c.count.frames).toFixed(1)]);
  rows.push(["  … bytes/s", fmtBytes(per((c) => c.count.bytes))]);
  rows.push(["  … its join's presence_count", fmtBytes(median(costs.map((c) => c.countJoinBytes)))]);

  console.log(`counters (medians of ${runs} runs, ${seconds} s each)`);
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`);
}
