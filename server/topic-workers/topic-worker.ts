import type { Payload } from "../channel/results.js";
import type { Logger } from "../ops/logger.js";
import type { PresenceDiff } from "../presence/diff.js";

/**
 * A topic worker: server code that runs once per topic across the whole cluster while the topic
 * has subscribers (docs/topic-workers.md):
 *
 *   server.topicWorker("score:*", {
 *     linger: 30_000,
 *     start(topic, ctx) {
 *       const timer = setInterval(() => ctx.broadcast("score", fetchScore(topic)), 1000);
 *       return { stop: () => clearInterval(timer) };
 *     },
 *   });
 */
export interface TopicWorkerSpec {
  /**
   * Starts the worker of `topic` on this thread, which holds the topic's lease. What it returns
   * (if anything) is stopped when the worker ends; `ctx.signal` aborts at the same moment. A start
   * that throws or rejects is logged and tried again with backoff while the lease is held.
   */
  start(topic: string, ctx: TopicWorkerContext): TopicWorkerHandle | void | Promise<TopicWorkerHandle | void>;
  /** How long the worker keeps running after the last subscriber of its topic anywhere left, ms (default 30,000). */
  linger?: number;
}

export interface TopicWorkerHandle {
  stop(): void | Promise<void>;
}

/** What a running topic worker may do. Its effects through Cinder are fenced: see `fence`. */
export interface TopicWorkerContext {
  readonly topic: string;
  /**
   * The lease's fencing number: larger for every new grant of the topic's lease. Effects outside
   * Cinder can be made conditional on it (e.g. a database write only if `fence` ≥ the last one seen).
   */
  readonly fence: number;
  /** Aborts when this worker ends: lease lost or not renewed in time, linger over, node draining. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /**
   * Broadcasts to every subscriber of the topic in the cluster, only while this worker still
   * holds the lease (checked by the lease's authority in the same step as the publication).
   * Resolves false when it was not sent: the lease had passed on, or could not be checked.
   */
  broadcast(event: string, payload: Payload): Promise<boolean>;
  /** A small checkpoint store kept with the lease, so the next holder carries on. */
  readonly state: TopicWorkerState;
  /** Cluster-wide presence of a topic (default: the worker's own). */
  presenceCount(topic?: string): number;
  /** Calls `listener` with each presence diff of a topic (default: the worker's own) until the worker ends. */
  onPresence(listener: (diff: PresenceDiff) => void, topic?: string): void;
  /**
   * Receives every broadcast of `topic` (from anywhere in the cluster) until the worker ends. This
   * thread counts as a subscriber of `topic` meanwhile. Payloads are shared: do not modify them.
   */
  subscribe(topic: string, listener: (event: string, payload: Payload) => void): void;
}

export interface TopicWorkerState {
  /** The value last set under `name` by any holder of the lease, or undefined. */
  get<T = unknown>(name: string): Promise<T | undefined>;
  /**
   * Stores a JSON value (at most 64 KiB as JSON, 100 names per topic), only while this worker
   * holds the lease; false when it no longer does. Kept 24 hours after the last write.
   */
  set(name: string, value: unknown): Promise<boolean>;
}
