import { hashTag } from "../redis/hash-tag.js";
import type { RedisConnections } from "../redis/redis-connections.js";
import { isNoScript, runScript, shaOf } from "../redis/scripts.js";
import type { Logger } from "../ops/logger.js";
import type { CounterMetrics } from "./counter-metrics.js";
import type { CounterDelta, CounterQuery, CounterStore } from "./counter-store.js";
import { bucketAt, windowMs, type CounterWindow } from "./counter-window.js";
import { PendingCounts } from "./pending-counts.js";

/**
 * One counter's coalesced increments, in one command. KEYS[1] is the counter's hash (field =
 * absolute bucket number, value = count). ARGV: the oldest bucket still in the window, the TTL
 * (ms), the number of [bucket, delta] pairs and the pairs, then the number of actor groups and
 * each group as bucket, id count, ids. A field created by this write (HINCRBY answers the delta
 * itself) is a new bucket: only then are the fields that left the window deleted. Actors go to
 * one HyperLogLog per bucket, KEYS[1]..':u:'..bucket, in the same hash slot.
 */
const FLUSH = `
local h = KEYS[1]
local oldest = tonumber(ARGV[1])
local ttl = ARGV[2]
local n = tonumber(ARGV[3])
local i = 4
local trim = false
for _ = 1, n do
  local bucket = tonumber(ARGV[i])
  local by = tonumber(ARGV[i + 1])
  i = i + 2
  if bucket >= oldest and redis.call('HINCRBY', h, ARGV[i - 2], by) == by then trim = true end
end
if trim then
  for _, field in ipairs(redis.call('HKEYS', h)) do
    if tonumber(field) < oldest then redis.call('HDEL', h, field) end
  end
end
if n > 0 then redis.call('PEXPIRE', h, ttl) end
local groups = tonumber(ARGV[i])
i = i + 1
for _ = 1, groups do
  local bucket = tonumber(ARGV[i])
  local count = tonumber(ARGV[i + 1])
  i = i + 2
  if bucket >= oldest then
    local u = h .. ':u:' .. ARGV[i - 2]
    for first = i, i + count - 1, 500 do
      redis.call('PFADD', u, unpack(ARGV, first, math.min(first + 499, i + count - 1)))
    end
    redis.call('PEXPIRE', u, ttl)
  end
  i = i + count
end
return 1
`;

/** The sum of the fields from ARGV[1] to ARGV[2]. */
const READ_COUNT = `
local from = tonumber(ARGV[1])
local to = tonumber(ARGV[2])
local sum = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local bucket = tonumber(all[i])
  if bucket >= from and bucket <= to then sum = sum + tonumber(all[i + 1]) end
end
return sum
`;

/** A counter's hash: its bucket length is part of the name, so nodes that disagree on it count apart. */
export function counterKeyOf(key: string, window: CounterWindow): string {
  return `cinder:c:${hashTag(key)}:${window.bucketMs}`;
}

export interface RedisCounterStoreOptions {
  connections: RedisConnections;
  /** A Redis Cluster: counters may live on different masters, so no single pipeline. */
  cluster: boolean;
  flushMs: number;
  /** Bound of the coalesced increments (counters plus actor ids). */
  maxPending: number;
  now: () => number;
  metrics: CounterMetrics;
  log: Logger;
}

/**
 * Counters of a cluster, in Redis. Increments (from this thread, and from the node's workers
 * through `apply`) are coalesced in memory and flushed every `flushMs` as one pipeline of one
 * FLUSH script per counter, so the commands per second follow the counters written, not the
 * increments. Reads go to Redis and see what every node has flushed.
 *
 * At most once: a flush is never sent again, so no increment is counted twice. What can be
 * lost is what a flush carried when Redis failed it, or what a node held when it died: at most
 * one flush interval of that node. While Redis is unreachable nothing is flushed; increments
 * are held (up to `maxPending`, then dropped and counted) and go out once Redis is back.
 */
export class RedisCounterStore implements CounterStore {
  private readonly pending: PendingCounts;
  private readonly timer: ReturnType<typeof setInterval>;
  private flushing: Promise<void> | null = null;
  private failedInOutage = 0;

  constructor(private readonly options: RedisCounterStoreOptions) {
    this.pending = new PendingCounts(options.maxPending);
    this.timer = setInterval(() => void this.flush(), options.flushMs);
    this.timer.unref();
  }

  incr(key: string, window: CounterWindow, bucket: number, by: number): void {
    this.hold(by, () => this.pending.incr(key, window, bucket, by));
  }

  addActor(key: string, window: CounterWindow, bucket: number, actor: string): void {
    this.hold(1, () => this.pending.addActor(key, window, bucket, actor));
  }

  apply(deltas: readonly CounterDelta[]): void {
    const lost = this.pending.merge(deltas);
    if (lost > 0) {
      void this.flush();
      this.options.metrics.counterDropped.inc({ reason: "pending_full" }, lost);
    }
    this.options.metrics.counterPending.set(this.pending.size);
  }

  async read(query: CounterQuery): Promise<number> {
    const client = this.options.connections.publisher;
    const hash = counterKeyOf(query.key, query.window);
    if (query.kind === "count") return Number(await runScript(client, READ_COUNT, [hash], [String(query.from), String(query.to)]));
    const keys: string[] = [];
    for (let bucket = query.from; bucket <= query.to; bucket++) keys.push(`${hash}:u:${bucket}`);
    return client.pfcount(...keys);
  }

  /** Sends what is pending now (the timer does it every flushMs). Resolves once Redis answered. */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0 || !this.options.connections.isReady("publisher")) return;
    const deltas = this.pending.take();
    this.options.metrics.counterPending.set(0);
    this.flushing = this.send(deltas).finally(() => (this.flushing = null));
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
    await this.flush();
  }

  private hold(amount: number, add: () => boolean): void {
    const { metrics } = this.options;
    metrics.counterIncrements.inc();
    if (!add()) {
      // Full: flush early when Redis can take it; what still does not fit is lost, and counted.
      void this.flush();
      if (!add()) metrics.counterDropped.inc({ reason: "pending_full" }, amount);
    }
    metrics.counterPending.set(this.pending.size);
  }

  private async send(deltas: CounterDelta[]): Promise<void> {
    const { metrics, connections } = this.options;
    const client = connections.publisher;
    const commands = deltas.map((delta) => ({ delta, args: this.argsOf(delta) }));
    metrics.counterFlushes.inc();
    metrics.counterFlushCommands.inc(commands.length);
    let failed = 0;
    let failure: unknown;
    const retry: typeof commands = [];
    const settle = (command: (typeof commands)[number], error: unknown) => {
      if (!error) return;
      // NOSCRIPT: Redis did not run it (it restarted and lost its scripts); send the body.
      if (isNoScript(error)) retry.push(command);
      else (failed += lossOf(command.delta)), (failure = error);
    };
    const sha = shaOf(FLUSH);
    if (this.options.cluster) {
      const results = await Promise.allSettled(commands.map(({ args }) => client.evalsha(sha, 1, ...args)));
      results.forEach((result, i) => settle(commands[i], result.status === "rejected" ? result.reason : null));
    } else {
      const pipeline = client.pipeline();
      for (const { args } of commands) pipeline.evalsha(sha, 1, ...args);
      const results = await pipeline.exec().catch((error: unknown) => commands.map(() => [error, null] as [unknown, unknown]));
      (results ?? []).forEach(([error], i) => settle(commands[i], error));
    }
    const retried = await Promise.allSettled(retry.map(({ args }) => client.eval(FLUSH, 1, ...args)));
    retried.forEach((result, i) => {
      if (result.status === "rejected") (failed += lossOf(retry[i].delta)), (failure = result.reason);
    });
    if (failed === 0) {
      if (this.failedInOutage > 0) this.options.log.info({ lost: this.failedInOutage }, "counter flushes reach Redis again");
      this.failedInOutage = 0;
      return;
    }
    metrics.counterDropped.inc({ reason: "flush_failed" }, failed);
    if (this.failedInOutage === 0) this.options.log.warn({ err: failure, lost: failed }, "a counter flush failed: its increments are lost (never sent twice)");
    this.failedInOutage += failed;
  }

  private argsOf({ key, window, counts, actors }: CounterDelta): string[] {
    const oldest = bucketAt(window, this.options.now()) - window.buckets + 1;
    const args = [counterKeyOf(key, window), String(oldest), String(windowMs(window) + window.bucketMs), String(counts.length / 2)];
    for (const value of counts) args.push(String(value));
    args.push(String(actors.length));
    for (const [bucket, ids] of actors) args.push(String(bucket), String(ids.length), ...ids);
    return args;
  }
}

/** Increments and actor ids a delta carries (what a failed flush loses of it). */
function lossOf(delta: CounterDelta): number {
  let lost = 0;
  for (let i = 1; i < delta.counts.length; i += 2) lost += delta.counts[i];
  for (const [, ids] of delta.actors) lost += ids.length;
  return lost;
}
