import type { Logger } from "../ops/logger.js";
import { counterChannel, type CounterChannelOptions } from "./counter-channel.js";
import { CounterFeed, type CounterFeedOptions, type CounterReading } from "./counter-feed.js";
import type { ChannelHandler } from "../channel/handler.js";
import type { CounterStore } from "./counter-store.js";
import { bucketAt, bucketsOf, checkActor, checkIncrement, checkKey, checkSpan, checkWindow, type CounterWindow } from "./counter-window.js";
import { WindowRules } from "./window-rules.js";

export interface ReadOptions {
  /** The last this many ms (rounded up to whole buckets); default: the key's whole window. */
  window?: number;
}

export interface CountersOptions {
  store: CounterStore;
  /** The current time in ms; injected by tests to slide windows without waiting. */
  now: () => number;
  metrics: CounterFeedOptions["metrics"];
  log: Logger;
  /** Live counts: `counter` pushes go to this thread's subscribers of a topic at most once per `intervalMs`. */
  deliver: (topic: string, reading: CounterReading) => void;
  intervalMs: number;
}

/**
 * Sliding-window activity counters (`server.counters`): how many times something happened,
 * and how many distinct actors did it, over the last hours. Keys are free-form
 * (`room:lobby`, `user:42`, `post:9`). On one node they live in memory; in a cluster each node
 * coalesces its increments and flushes them to Redis about once a second (docs/counters.md).
 * Bad keys, increments and windows throw a CounterError saying what is wrong.
 */
export class Counters {
  private readonly rules = new WindowRules();
  private readonly feed: CounterFeed;

  constructor(private readonly options: CountersOptions) {
    const { deliver, intervalMs, metrics, log } = options;
    this.feed = new CounterFeed({ read: (key, uniques) => this.reading(key, uniques), deliver, intervalMs, metrics, log });
  }

  /**
   * A channel handler for `counter:<key>` topics (`server.channel("counter:*", server.counters.channel())`):
   * the join reply carries the count, then `counter` pushes follow it (docs/counters.md).
   */
  channel<A extends Record<string, unknown>>(options: CounterChannelOptions<A> = {}): ChannelHandler<A> {
    return counterChannel(this.feed, options);
  }

  /**
   * Keys matching `pattern` (`"post:*"` or one key) count over `window` ms in buckets of
   * `bucket` ms (at least 1 s, at most 1,440 buckets). Declare the same on every node.
   */
  configure(pattern: string, settings: { window: number; bucket: number }): this {
    const literal = pattern.endsWith("*") ? pattern.slice(0, -1) : pattern;
    if (literal !== "" || pattern !== "*") checkKey(literal);
    this.rules.set(pattern, checkWindow(pattern, settings.window, settings.bucket));
    return this;
  }

  /** The window `key` counts over. */
  windowOf(key: string): CounterWindow {
    return this.rules.of(checkKey(key));
  }

  /** Counts `by` (a whole number from 0 to 1,000,000; default 1) now. */
  incr(key: string, by: number = 1): void {
    const window = this.windowOf(key);
    checkIncrement(by);
    if (by === 0) return;
    this.options.store.incr(key, window, bucketAt(window, this.options.now()), by);
  }

  /** Notes that `actor` (a user id, a session) was active on `key` now. */
  addActor(key: string, actor: string | number): void {
    const window = this.windowOf(key);
    const id = checkActor(actor);
    this.options.store.addActor(key, window, bucketAt(window, this.options.now()), id);
  }

  /** The count over the last `window` ms (default: the key's whole window). Never negative. */
  read(key: string, options: ReadOptions = {}): Promise<number> {
    return this.query(key, "count", options);
  }

  /** How many distinct actors were active over the last `window` ms (HyperLogLog: ±0.81 % standard error). */
  uniques(key: string, options: ReadOptions = {}): Promise<number> {
    return this.query(key, "uniques", options);
  }

  /** Stops the live counts. */
  stop(): void {
    this.feed.stop();
  }

  private async reading(key: string, uniques: boolean): Promise<CounterReading> {
    const [value, actors] = await Promise.all([this.read(key), uniques ? this.uniques(key) : undefined]);
    return actors === undefined ? { key, value } : { key, value, uniques: actors };
  }

  private async query(key: string, kind: "count" | "uniques", options: ReadOptions): Promise<number> {
    const window = this.windowOf(key);
    const span = checkSpan(options.window, window, key);
    const { from, to } = bucketsOf(window, this.options.now(), span);
    return Math.max(0, await this.options.store.read({ key, window, kind, from, to }));
  }
}
