import type { Logger } from "pino";
import type { RedisClient } from "./redis-client.js";

/** `plain`: SUBSCRIBE/PUBLISH (every node of a Redis Cluster sees it). `sharded`: SSUBSCRIBE/SPUBLISH. */
export type ChannelKind = "plain" | "sharded";

export type ChannelListener = (message: Buffer, channel: string) => void;

export interface SubscriptionRegistryOptions {
  /** Subscribe/unsubscribe requests within this window go to Redis as one batch, ms. */
  batchMs?: number;
  /**
   * A channel whose last listener left stays subscribed this long, so a topic that empties
   * and fills again (a page reload) costs no UNSUBSCRIBE/SUBSCRIBE round trip. Messages that
   * arrive meanwhile find no listener and are dropped here. ms.
   */
  lingerMs?: number;
  logger?: Logger;
  /** Called when Redis refused or failed a subscribe request (it is retried 1 s later). */
  onSubscribeFailed?: (error: unknown) => void;
}

const SUBSCRIBE_CHUNK = 500;

/**
 * The channels this node wants from Redis on one subscriber connection, and who listens to
 * each. Redis is told about changes in batches. After every (re)connect the whole set is
 * subscribed again from here: this registry, not ioredis, is the source of truth, because
 * ioredis only re-subscribes channels the server had confirmed before the connection dropped
 * and drops subscriptions requested while it was down.
 */
export class SubscriptionRegistry {
  private readonly listeners = new Map<string, Set<ChannelListener>>();
  /** What Redis has been asked to deliver on the current connection. */
  private readonly applied = new Set<string>();
  /** Channels Redis has confirmed (SUBSCRIBE answered): messages on them reach us. */
  private readonly confirmed = new Set<string>();
  /** Who waits for a channel to be confirmed. */
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly lastLeftAt = new Map<string, number>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private flushDueAt = Infinity;
  private readonly batchMs: number;
  private readonly lingerMs: number;
  private closed = false;
  private readonly logger: Logger | undefined;
  private readonly onSubscribeFailed: ((error: unknown) => void) | undefined;

  constructor(
    private readonly client: RedisClient,
    private readonly kind: ChannelKind,
    options: SubscriptionRegistryOptions = {},
  ) {
    this.batchMs = options.batchMs ?? 5;
    this.lingerMs = options.lingerMs ?? 2000;
    this.logger = options.logger;
    this.onSubscribeFailed = options.onSubscribeFailed;
    const event = kind === "plain" ? "messageBuffer" : "smessageBuffer";
    client.on(event, (channel: Buffer | string, message: Buffer) => this.dispatch(channel.toString(), message));
  }

  /** Resolves once Redis has confirmed the subscription (at once if it already has). */
  add(channel: string, listener: ChannelListener): Promise<void> {
    let set = this.listeners.get(channel);
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(listener);
    this.lastLeftAt.delete(channel);
    if (!this.applied.has(channel)) this.scheduleFlush(this.batchMs);
    if (this.confirmed.has(channel) || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiters.get(channel) ?? [];
      list.push(resolve);
      this.waiters.set(channel, list);
    });
  }

  remove(channel: string, listener: ChannelListener): void {
    const set = this.listeners.get(channel);
    if (!set?.delete(listener) || set.size > 0) return;
    this.listeners.delete(channel);
    // Nobody listens any more: whoever still waits for the SUBSCRIBE has left too.
    this.releaseWaiters(channel);
    if (!this.applied.has(channel)) return;
    this.lastLeftAt.set(channel, Date.now());
    this.scheduleFlush(this.lingerMs);
  }

  /** Channels with at least one listener. */
  get channelCount(): number {
    return this.listeners.size;
  }

  /** Callers waiting for a SUBSCRIBE to be confirmed; at most one per listener added, released when it is removed. */
  get waiterCount(): number {
    let count = 0;
    for (const list of this.waiters.values()) count += list.length;
    return count;
  }

  /** The connection is ready again (or for the first time): Redis holds none of our subscriptions. */
  connectionReady(): number {
    this.applied.clear();
    this.confirmed.clear();
    this.lastLeftAt.clear();
    for (const channel of [...this.waiters.keys()]) if (!this.listeners.has(channel)) this.releaseWaiters(channel);
    this.flush();
    return this.applied.size;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.flushTimer);
    this.listeners.clear();
    for (const list of this.waiters.values()) for (const resolve of list) resolve();
    this.waiters.clear();
  }

  private dispatch(channel: string, message: Buffer): void {
    const set = this.listeners.get(channel);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(message, channel);
      } catch (error) {
        this.logger?.error({ err: error, channel }, "redis message listener failed");
      }
    }
  }

  private scheduleFlush(delayMs: number): void {
    if (this.closed) return;
    const dueAt = Date.now() + delayMs;
    if (this.flushTimer !== undefined && this.flushDueAt <= dueAt) return;
    clearTimeout(this.flushTimer);
    this.flushDueAt = dueAt;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flushDueAt = Infinity;
      this.flush();
    }, delayMs);
    this.flushTimer.unref?.();
  }

  private flush(): void {
    // While disconnected, nothing is sent: connectionReady() subscribes everything anew.
    if (this.closed || this.client.status !== "ready") return;
    const now = Date.now();
    const subscribe = [...this.listeners.keys()].filter((channel) => !this.applied.has(channel));
    const unsubscribe: string[] = [];
    let nextLingerDue = Infinity;
    for (const channel of this.applied) {
      if (this.listeners.has(channel)) continue;
      const dueAt = (this.lastLeftAt.get(channel) ?? 0) + this.lingerMs;
      if (dueAt <= now) unsubscribe.push(channel);
      else nextLingerDue = Math.min(nextLingerDue, dueAt);
    }
    for (const channel of unsubscribe) {
      this.applied.delete(channel);
      this.confirmed.delete(channel);
      this.lastLeftAt.delete(channel);
    }
    for (const channel of subscribe) this.applied.add(channel);
    this.send("unsubscribe", unsubscribe);
    this.send("subscribe", subscribe);
    if (nextLingerDue !== Infinity) this.scheduleFlush(nextLingerDue - now);
  }

  private send(action: "subscribe" | "unsubscribe", channels: string[]): void {
    for (let i = 0; i < channels.length; i += SUBSCRIBE_CHUNK) {
      const chunk = channels.slice(i, i + SUBSCRIBE_CHUNK);
      this.command(action, chunk).then(
        () => {
          if (action === "subscribe") for (const channel of chunk) this.confirm(channel);
        },
        (error: unknown) => {
          // The connection dropped mid-request (connectionReady() will redo everything) or Redis refused.
          if (action === "subscribe") for (const channel of chunk) this.applied.delete(channel);
          this.logger?.warn({ err: error, channels: chunk.length }, `redis ${action} failed`);
          if (action === "subscribe") this.onSubscribeFailed?.(error);
          if (this.client.status === "ready") this.scheduleFlush(1000);
        },
      );
    }
  }

  private releaseWaiters(channel: string): void {
    const list = this.waiters.get(channel);
    if (!list) return;
    this.waiters.delete(channel);
    for (const resolve of list) resolve();
  }

  private confirm(channel: string): void {
    if (!this.applied.has(channel)) return;
    this.confirmed.add(channel);
    this.releaseWaiters(channel);
  }

  private command(action: "subscribe" | "unsubscribe", channels: string[]): Promise<unknown> {
    if (this.kind === "plain") {
      return action === "subscribe" ? this.client.subscribe(...channels) : this.client.unsubscribe(...channels);
    }
    // One SSUBSCRIBE per channel: channels of one SSUBSCRIBE must share a hash slot.
    const client = this.client;
    return Promise.all(channels.map((channel) => (action === "subscribe" ? client.ssubscribe(channel) : client.sunsubscribe(channel))));
  }
}
