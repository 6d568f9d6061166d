import type { Payload } from "../channel/results.js";
import { fenceOf, STATE_LIMITS, type Leases } from "../leases/leases.js";
import type { Logger } from "../ops/logger.js";
import type { TopicWorkerMetrics } from "./topic-worker-metrics.js";
import type { PresenceDiff } from "../presence/diff.js";
import type { TopicWorkerContext, TopicWorkerHandle, TopicWorkerSpec } from "./topic-worker.js";

/** What a running worker reaches of its server. */
export interface TopicWorkerServices {
  leases: Leases;
  /** A fenced broadcast: through the lease's authority, then delivered on this thread if it passed. */
  broadcast(token: string, topic: string, event: string, payload: Payload): Promise<boolean>;
  presenceCount(topic: string): number;
  onPresence(topic: string, listener: (diff: PresenceDiff) => void): () => void;
  subscribe(topic: string, listener: (event: string, payload: Payload) => void): () => void;
  log: Logger;
  metrics: TopicWorkerMetrics;
}

/** Why a worker ended (the `reason` label of cinder_topic_worker_stops_total). */
export type StopReason = "linger" | "lost" | "expired" | "drain";

/** Backoff of a start that failed: 1 s, doubling, at most 30 s. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

/**
 * One run of a topic worker on this thread, for one grant of the lease: its start (retried with
 * backoff while it fails), its context, and its end. Everything it set up through the context
 * is undone when it ends.
 */
export class WorkerRun {
  private readonly controller = new AbortController();
  private readonly cleanups: Array<() => void> = [];
  private handle: TopicWorkerHandle | void = undefined;
  private retry: NodeJS.Timeout | null = null;
  private attempts = 0;
  private readonly log: Logger;

  constructor(
    private readonly topic: string,
    private readonly token: string,
    private readonly spec: TopicWorkerSpec,
    private readonly services: TopicWorkerServices,
    /** Whether the lease is surely still held (renewed recently enough); a refused effect says it may not be. */
    private readonly lease: { valid: () => boolean; doubt: () => void },
  ) {
    this.log = services.log.child({ topicWorker: topic, fence: fenceOf(token) });
  }

  get ended(): boolean {
    return this.controller.signal.aborted;
  }

  start(): void {
    const { metrics } = this.services;
    metrics.topicWorkers.inc();
    void this.attempt();
  }

  stop(reason: StopReason): void {
    if (this.ended) return;
    this.controller.abort(reason);
    const { metrics } = this.services;
    metrics.topicWorkers.dec();
    metrics.topicWorkerStops.inc({ reason });
    if (this.retry) clearTimeout(this.retry);
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.log.info({ reason }, "topic worker stopped");
    this.stopHandle();
  }

  private async attempt(): Promise<void> {
    this.retry = null;
    try {
      const handle = await this.spec.start(this.topic, this.context());
      this.services.metrics.topicWorkerStarts.inc({ outcome: "ok" });
      this.handle = handle;
      if (this.ended) this.stopHandle();
      else this.log.info("topic worker started");
    } catch (err) {
      this.services.metrics.topicWorkerStarts.inc({ outcome: "failed" });
      if (this.ended) return;
      const delay = Math.min(RETRY_MIN_MS * 2 ** this.attempts++, RETRY_MAX_MS);
      this.log.error({ err, retryInMs: delay }, "topic worker failed to start");
      this.retry = setTimeout(() => void this.attempt(), delay);
    }
  }

  private stopHandle(): void {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle || typeof handle.stop !== "function") return;
    Promise.resolve()
      .then(() => handle.stop())
      .catch((err: unknown) => this.log.error({ err }, "topic worker failed to stop"));
  }

  private context(): TopicWorkerContext {
    const { topic, token, services, lease } = this;
    const signal = this.controller.signal;
    const refused = (): false => {
      services.metrics.topicWorkerEffectsRefused.inc();
      lease.doubt();
      return false;
    };
    const until = (cleanup: () => void): void => {
      if (signal.aborted) cleanup();
      else this.cleanups.push(cleanup);
    };
    return {
      topic,
      fence: fenceOf(token),
      signal,
      log: this.log,
      broadcast: async (event, payload) => {
        if (signal.aborted || !lease.valid()) return refused();
        const sent = await services.broadcast(token, topic, event, payload).catch((err: unknown) => {
          if (err instanceof TypeError) throw err;
          this.log.warn({ err, event }, "a topic worker's broadcast could not be checked against its lease");
          return false;
        });
        return sent || refused();
      },
      state: {
        get: async <T>(name: string) => {
          const text = await services.leases.readState(topic, checkName(name));
          return text === null ? undefined : (JSON.parse(text) as T);
        },
        set: async (name, value) => {
          const text = JSON.stringify(value);
          if (text === undefined) throw new TypeError("topic worker state must be a JSON value");
          if (Buffer.byteLength(text) > STATE_LIMITS.maxValueBytes) throw new RangeError(`topic worker state values are at most ${STATE_LIMITS.maxValueBytes} bytes of JSON`);
          if (signal.aborted || !lease.valid()) return refused();
          return (await services.leases.writeState({ topic, token, name: checkName(name), value: text })) || refused();
        },
      },
      presenceCount: (of = topic) => services.presenceCount(of),
      onPresence: (listener, of = topic) => until(services.onPresence(of, listener)),
      subscribe: (to, listener) => until(services.subscribe(to, listener)),
    };
  }
}

function checkName(name: string): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 200) throw new TypeError("a topic worker state name is a string of 1 to 200 characters");
  return name;
}
