import type { RedisConnections } from "../redis/redis-connections.js";
import type { ChannelListener } from "../redis/subscription-registry.js";
import type { EncodedBroadcast } from "../fabric/encoded-broadcast.js";
import { encodeBroadcast } from "../fabric/redis-envelope.js";
import { STATE_LIMITS, type LeaseClaim, type LeaseRelease, type Leases, type LeaseView, type ReleaseOutcome, type StateWrite } from "./leases.js";

/** How long a topic's fencing counter outlives its last grant (then fencing numbers restart from Redis's clock in ms). */
const FENCE_KEPT_MS = 24 * 3600 * 1000;

/** Redis's clock, in ms: every node judges expiry by the same clock. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Drops expired interest, then registers (ARGV[3] = '1') or withdraws ARGV[1]'s; leaves `interest`. */
const INTEREST = `redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[3], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ttl)
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
local interest = redis.call('ZCARD', KEYS[3])`;

/**
 * KEYS: lease, fence, interest. ARGV: claimant, ttl, interested, token ('' to take).
 * A renewal extends the lease only while it is still the caller's token (compare-and-extend); a
 * take sets it only when absent (SET NX) with the next fencing number: one more than the last,
 * and never below Redis's clock in µs, so numbers keep growing even after the counter was lost
 * (expired, or Redis restarted empty: a restart takes far longer than a microsecond).
 */
const CLAIM = `${NOW}
local ttl = tonumber(ARGV[2])
${INTEREST}
local lease = redis.call('GET', KEYS[1])
if ARGV[4] ~= '' or lease then
  if lease and lease == ARGV[4] then
    redis.call('PEXPIRE', KEYS[1], ttl)
    return {1, lease, ttl, interest}
  end
  if not lease then return {0, '', 0, interest} end
  return {0, lease, redis.call('PTTL', KEYS[1]), interest}
end
local fence = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
local micros = tonumber(t[1]) * 1000000 + tonumber(t[2])
if fence < micros then fence = micros end
fence = string.format('%d', fence)
redis.call('SET', KEYS[2], fence, 'PX', ${FENCE_KEPT_MS})
local token = ARGV[1] .. '|' .. fence
redis.call('SET', KEYS[1], token, 'PX', ttl)
return {1, token, ttl, interest}
`;

/** KEYS: lease, interest. ARGV: token, claimant, ifIdle, free channel, topic. Compare-and-delete. */
const RELEASE = `${NOW}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lost' end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREM', KEYS[2], ARGV[2])
if ARGV[3] == '1' and redis.call('ZCARD', KEYS[2]) > 0 then return 'busy' end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 'released'
`;

/**
 * KEYS: lease. ARGV: token, channel, envelope, sharded. The lease check and the publication are
 * one script: a holder whose lease passed to another (it was frozen, or cut off) publishes nothing.
 */
const PUBLISH = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[4] == '1' then redis.call('SPUBLISH', ARGV[2], ARGV[3]) else redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1
`;

/** KEYS: lease, state. ARGV: token, name, value, max names. */
const WRITE_STATE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return -1 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ${STATE_LIMITS.ttlMs})
return 1
`;

/** Where releases are announced, to every node. */
export const LEASES_CHANNEL = "cinder:leases";

export interface RedisLeasesOptions {
  /** `nodeName#incarnation`: fenced broadcasts carry it, so this node drops their echo. */
  sender: string;
  sharded: boolean;
  /** The Redis channel of a topic's broadcasts. */
  channelOf: (topic: string) => string;
}

/**
 * Leases in Redis. A topic's keys share the hash slot of its broadcast channel, so a fenced
 * broadcast is one script on one shard, SPUBLISH included (Redis Cluster, sharded pub/sub).
 * Each call is one EVAL (Redis caches the compiled script by its hash).
 */
export class RedisLeases implements Leases {
  private readonly freeListeners: Array<(topic: string) => void> = [];
  /** Resolved once Redis confirmed the subscription to LEASES_CHANNEL (asked for with the first listener). */
  private announcements: Promise<void> | undefined;
  private readonly freeListener: ChannelListener = (bytes) => {
    for (const listener of this.freeListeners) listener(bytes.toString());
  };

  constructor(
    private readonly connections: RedisConnections,
    private readonly options: RedisLeasesOptions,
  ) {}

  async claim(claim: LeaseClaim): Promise<LeaseView> {
    const keys = this.keysOf(claim.topic);
    const reply = (await this.connections.publisher.eval(CLAIM, 3, keys.lease, keys.fence, keys.interest, claim.claimant, String(claim.ttlMs), claim.interested ? "1" : "0", claim.token ?? "")) as [
      number,
      string,
      number,
      number,
    ];
    return { held: reply[0] === 1, token: String(reply[1]), ttlLeft: Math.max(0, Number(reply[2])), interest: Number(reply[3]) };
  }

  async release(release: LeaseRelease): Promise<ReleaseOutcome> {
    const keys = this.keysOf(release.topic);
    const args = [release.token, release.claimant, release.ifIdle ? "1" : "0", LEASES_CHANNEL, release.topic];
    return (await this.connections.publisher.eval(RELEASE, 2, keys.lease, keys.interest, ...args)) as ReleaseOutcome;
  }

  async publish(token: string, message: EncodedBroadcast): Promise<boolean> {
    const envelope = Buffer.from(encodeBroadcast(this.options.sender, message));
    const channel = this.options.channelOf(message.topic);
    const sharded = this.options.sharded ? "1" : "0";
    return (await this.connections.publisher.eval(PUBLISH, 1, this.keysOf(message.topic).lease, token, channel, envelope, sharded)) === 1;
  }

  async readState(topic: string, name: string): Promise<string | null> {
    return this.connections.publisher.hget(this.keysOf(topic).state, name);
  }

  async writeState(write: StateWrite): Promise<boolean> {
    const keys = this.keysOf(write.topic);
    const done = (await this.connections.publisher.eval(WRITE_STATE, 2, keys.lease, keys.state, write.token, write.name, write.value, String(STATE_LIMITS.maxNames))) as number;
    if (done === -1) throw new RangeError(`a topic worker keeps at most ${STATE_LIMITS.maxNames} state values`);
    return done === 1;
  }

  onFree(listener: (topic: string) => void): Promise<void> {
    this.announcements ??= this.connections.channels.add(LEASES_CHANNEL, this.freeListener);
    this.freeListeners.push(listener);
    return this.announcements;
  }

  private keysOf(topic: string): { lease: string; fence: string; interest: string; state: string } {
    const tag = hashTagOf(this.options.channelOf(topic));
    if (tag.includes("}")) throw new TypeError(`topic ${JSON.stringify(topic)}: a topic worker's topic cannot contain "}" without "{" before it`);
    const base = `cinder:tw:{${tag}}:${topic}:`;
    return { lease: `${base}lease`, fence: `${base}fence`, interest: `${base}interest`, state: `${base}state` };
  }
}

/** What Redis hashes to place `name` in a Cluster slot: its first non-empty {tag}, else all of it. */
export function hashTagOf(name: string): string {
  const open = name.indexOf("{");
  if (open >= 0) {
    const close = name.indexOf("}", open + 1);
    if (close > open + 1) return name.slice(open + 1, close);
  }
  return name;
}
