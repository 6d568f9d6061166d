/**
 * What Redis did between two moments, from INFO: calls per command (commandstats, which also
 * counts the commands a Lua script runs, so the XADD inside the history script shows up as
 * XADD) and the CPU time redis-server used.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";

export interface RedisSnapshot {
  /** when it was taken, ms (performance clock) */
  atMs: number;
  calls: Map<string, number>;
  /** used_cpu_sys + used_cpu_user, seconds */
  cpuSeconds: number;
}

export interface RedisDelta {
  seconds: number;
  calls: Map<string, number>;
  cpuSeconds: number;
}

/** Our own INFO calls, not the nodes' work. */
const OWN_COMMANDS = new Set(["info"]);

export async function redisSnapshot(redis: Redis): Promise<RedisSnapshot> {
  const [commandstats, cpu] = await Promise.all([redis.info("commandstats"), redis.info("cpu")]);
  const calls = new Map<string, number>();
  for (const m of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!OWN_COMMANDS.has(m[1])) calls.set(m[1], Number(m[2]));
  }
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(cpu)?.[1] ?? "0");
  return { atMs: performance.now(), calls, cpuSeconds: field("used_cpu_sys") + field("used_cpu_user") };
}

export function redisDelta(from: RedisSnapshot, to: RedisSnapshot): RedisDelta {
  const calls = new Map<string, number>();
  for (const [name, n] of to.calls) {
    const d = n - (from.calls.get(name) ?? 0);
    if (d > 0) calls.set(name, d);
  }
  return { seconds: (to.atMs - from.atMs) / 1000, calls, cpuSeconds: to.cpuSeconds - from.cpuSeconds };
}

/**
 * What Redis does with no broadcast going on: each node refreshes its liveness key and reads
 * the others' every second (and may send presence heartbeats). Measured over `ms` while the
 * cluster is idle, to be taken off the figures of a load window.
 */
export async function idleRedisRate(redis: Redis, ms: number): Promise<RedisDelta> {
  const from = await redisSnapshot(redis);
  await sleep(ms);
  return redisDelta(from, await redisSnapshot(redis));
}

/** `window` without what the idle rate would have done in as long; never below zero. */
export function withoutBackground(window: RedisDelta, idle: RedisDelta): RedisDelta {
  const scale = idle.seconds > 0 ? window.seconds / idle.seconds : 0;
  const calls = new Map<string, number>();
  for (const [name, n] of window.calls) calls.set(name, Math.max(0, n - (idle.calls.get(name) ?? 0) * scale));
  return { seconds: window.seconds, calls, cpuSeconds: Math.max(0, window.cpuSeconds - idle.cpuSeconds * scale) };
}

export function totalCalls(delta: RedisDelta): number {
  let sum = 0;
  for (const n of delta.calls.values()) sum += n;
  return sum;
}

/** used_memory (INFO memory), bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? "0");
}

/** MEMORY USAGE of a key with every element counted (SAMPLES 0), bytes; 0 when it is missing. */
export async function keyBytes(redis: Redis, key: string): Promise<number> {
  const reply = await redis.call("MEMORY", "USAGE", key, "SAMPLES", "0");
  return typeof reply === "number" ? reply : 0;
}
