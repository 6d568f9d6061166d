import type { RedisConnections } from "../redis/redis-connections.js";
import type { Logger } from "../ops/logger.js";
import type { WebhookLedger } from "./ledger.js";

/**
 * Every key in one hash slot, so the scripts work on a Redis Cluster too:
 *   <p>s:<set>      SET of the senders (node incarnations) holding the set
 *   <p>n:<sender>   SET of the sets a sender holds (what a sweep removes it from)
 *   <p>senders      SET of the senders that hold anything
 *   <p>alive:<sender>  present while the sender is alive (refreshed, with a TTL)
 */
const PREFIX = "{cinder:wh}:";

/** Adds the sender to the set; 1 when the set was empty. Marks the sender alive. */
const JOIN = `
local added = redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SET', KEYS[4], '1', 'PX', ARGV[3])
if added == 1 and redis.call('SCARD', KEYS[1]) == 1 then return 1 end
return 0`;

/** Removes the sender from the set; 1 when that emptied it. */
const LEAVE = `
local removed = redis.call('SREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
if removed == 1 and redis.call('SCARD', KEYS[1]) == 0 then return 1 end
return 0`;

/**
 * Removes every sender whose alive key expired from every set it held, and returns the sets that
 * emptied. Atomic: when several survivors sweep the same dead node, the first takes all of it and
 * the others find nothing.
 */
const SWEEP = `
local prefix = ARGV[1]
local emptied = {}
for _, sender in ipairs(redis.call('SMEMBERS', prefix .. 'senders')) do
  if sender ~= ARGV[2] and redis.call('EXISTS', prefix .. 'alive:' .. sender) == 0 then
    local index = prefix .. 'n:' .. sender
    for _, set in ipairs(redis.call('SMEMBERS', index)) do
      local key = prefix .. 's:' .. set
      if redis.call('SREM', key, sender) == 1 and redis.call('SCARD', key) == 0 then table.insert(emptied, set) end
    end
    redis.call('DEL', index)
    redis.call('SREM', prefix .. 'senders', sender)
  end
end
return emptied`;

export interface RedisLedgerOptions {
  connections: RedisConnections;
  /** This node's incarnation (`nodeName#incarnation`): a node restarted under its name is another sender. */
  sender: string;
  log: Logger;
  /** Lifetime of the alive key, ms: a node silent this long is swept. Default 3000, as node liveness. */
  ttlMs?: number;
  /** How often the alive key is refreshed and dead senders swept, ms. Default 1000. */
  periodMs?: number;
}

/**
 * The ledger in Redis: one script per join or leave, sent in order on the node's publisher
 * connection (plain EVAL, never EVALSHA with a fallback that could reorder a join and a leave).
 * A node's alive key is refreshed every period; every node sweeps the dead each period.
 */
export class RedisLedger implements WebhookLedger {
  private readonly ttlMs: number;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly sweptListeners: Array<(sets: string[]) => void> = [];
  private sweeping = false;
  private closed = false;

  constructor(private readonly options: RedisLedgerOptions) {
    this.ttlMs = options.ttlMs ?? 3000;
    this.timer = setInterval(() => void this.tick(), options.periodMs ?? 1000);
    this.timer.unref?.();
  }

  async join(set: string): Promise<boolean> {
    const { sender } = this.options;
    const keys = [`${PREFIX}s:${set}`, `${PREFIX}n:${sender}`, `${PREFIX}senders`, `${PREFIX}alive:${sender}`];
    return (await this.options.connections.publisher.eval(JOIN, keys.length, ...keys, sender, set, String(this.ttlMs))) === 1;
  }

  async leave(set: string): Promise<boolean> {
    const { sender } = this.options;
    const keys = [`${PREFIX}s:${set}`, `${PREFIX}n:${sender}`];
    return (await this.options.connections.publisher.eval(LEAVE, keys.length, ...keys, sender, set)) === 1;
  }

  onSwept(listener: (sets: string[]) => void): void {
    this.sweptListeners.push(listener);
  }

  /** Stops refreshing and removes the alive key: survivors sweep what this node still holds at once. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    if (!this.options.connections.isReady("publisher")) return;
    await this.options.connections.publisher.del(`${PREFIX}alive:${this.options.sender}`).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    const { connections, sender, log } = this.options;
    if (this.closed || this.sweeping || !connections.isReady("publisher")) return;
    this.sweeping = true;
    try {
      await connections.publisher.set(`${PREFIX}alive:${sender}`, "1", "PX", this.ttlMs);
      const emptied = (await connections.publisher.eval(SWEEP, 1, `${PREFIX}senders`, PREFIX, sender)) as string[];
      if (emptied.length > 0 && !this.closed) for (const listener of this.sweptListeners) listener(emptied);
    } catch (err) {
      log.debug({ err }, "webhook ledger refresh failed");
    } finally {
      this.sweeping = false;
    }
  }
}
