import { ReplyError } from "ioredis";
import type { RedisMedium } from "../fabric/medium.js";
import { settleWithin } from "../fabric/settle-within.js";
import type { Logger } from "../ops/logger.js";
import type { FabricMetrics } from "../fabric/fabric-metrics.js";
import type { HistoryMetrics } from "./history-metrics.js";
import type { HistoryAppend, HistoryAuthority, HistoryLimits, HistoryPage } from "./history.js";
import { encodeMarker, encodeNumbered, MARKER, NUMBERED } from "./history-envelope.js";
import { HistoryStreams } from "./history-streams.js";
import { PendingStores, type StoreLimits } from "./pending-stores.js";
import { RedisFrameStore, type Appended } from "./frame-store-redis.js";
import { CoalescedReads } from "./coalesced-reads.js";
import { StoreError, type StoredBroadcast, type StoreFailure } from "./store-error.js";

/**
 * How long a read-back of missed history broadcasts waits for the publishing connection: after an
 * outage the two connections come back apart, by up to one reconnect step (5 s at most, jittered),
 * and the first arrivals on the subscriber may well be the ones that show what was missed.
 */
const READ_BACK_WAIT_MS = 6000;
/** How long a read waits for its marker to come back on the topic's channel (one lost in an outage costs this wait, no more). */
const MARKER_WAIT_MS = 1000;

export interface RedisHistoryAuthorityOptions {
  /** Stored broadcasts in flight to Redis and how long each is waited on (historyMaxPendingStores, historyStoreTimeoutMs). */
  stores: StoreLimits;
  /** Reads of one topic one Redis read may serve at most (historyReadCoalesceMax; 1: none shared). */
  coalesceMax: number;
  /** Its own, and the fabric's count of broadcasts sent to other nodes (a stored broadcast is one). */
  metrics: HistoryMetrics & Pick<FabricMetrics, "fabricSent" | "fabricReceived">;
  log: Logger;
}

/**
 * The history of a node in a cluster, in Redis: a script numbers and keeps each broadcast and
 * publishes it on the topic's channel, where every node with interest gets it (this one too)
 * among the topic's broadcasts (history-envelope.ts: the fabric hands them here). Per topic with
 * interest, HistoryStreams refills what pub/sub lost.
 */
export class RedisHistoryAuthority implements HistoryAuthority {
  private readonly history: RedisFrameStore;
  private readonly stores: PendingStores;
  /** Per history topic with interest: where its subscribers are, to refill what pub/sub lost. */
  private readonly streams: HistoryStreams;
  /** History reads waiting for their marker to come back (see READ in frame-store-redis.ts). */
  private readonly markers = new Map<string, () => void>();
  private nextMarker = 0;
  private readonly reads: CoalescedReads;

  constructor(
    private readonly redis: RedisMedium,
    private readonly options: RedisHistoryAuthorityOptions,
  ) {
    const { topics } = redis;
    this.history = new RedisFrameStore(redis.connections, { sender: redis.sender, sharded: redis.sharded, channelOf: (topic) => topics.channelOf(topic) });
    const pending = options.metrics.historyStoresPending.labels({ on: "redis" });
    this.stores = new PendingStores({ ...options.stores, onSize: (size) => pending.set(size) });
    this.streams = new HistoryStreams({
      // A topic read back here has its epoch already; the TTL only matters if it vanished meanwhile.
      read: async (topic, since, limit) => {
        await this.publisherReady(READ_BACK_WAIT_MS);
        return this.history.read(topic, since, limit, { size: limit, ttlMs: 1000 });
      },
      deliver: (message) => topics.deliver(message),
      metrics: options.metrics,
      log: options.log,
    });
    topics.onTopicEnvelope(NUMBERED, (message) => {
      options.metrics.fabricReceived.inc();
      this.streams.receive(message);
    });
    // Only this node's own markers: where its reads stand in the topics' streams.
    topics.onTopicEnvelope(MARKER, (token, sender) => {
      if (sender === redis.sender) this.markers.get(token)?.();
    });
    topics.onInterestLost((topic) => this.streams.forget(topic));
    this.reads = new CoalescedReads({
      read: (topic, since, limit, limits) => this.readOnce(topic, since, limit, limits),
      maxPerRead: options.coalesceMax,
      onAsked: () => options.metrics.historyReads.inc(),
      onSent: () => options.metrics.historyStoreReads.inc(),
    });
  }

  append(message: HistoryAppend): void {
    const { topics, connections } = this.redis;
    if (topics.closed) return;
    if (!connections.isReady("publisher")) return topics.drop();
    this.sendAppend(message).catch(() => undefined); // counted and logged by sendAppend
  }

  /**
   * Resolves once the script has kept and numbered the message (when sharded, its SPUBLISH
   * follows in order; a node that misses it refills the gap from the stream). Not sent at all
   * while Redis is unreachable.
   */
  store(message: HistoryAppend): Promise<StoredBroadcast> {
    const { topics, connections } = this.redis;
    if (topics.closed) return Promise.reject(new StoreError("unavailable"));
    if (!connections.isReady("publisher")) {
      topics.drop();
      return Promise.reject(new StoreError("unavailable"));
    }
    return this.stores.run(() =>
      this.sendAppend(message).then(
        ({ offset, epoch }) => ({ offset, epoch }),
        (err: unknown) => Promise.reject(new StoreError(appendFailure(err))),
      ),
    );
  }

  /**
   * Reads a topic's history. When this node receives the topic, the read also publishes a marker
   * at its own point in the stream, and resolves once the marker is back and the node's
   * subscribers have everything up to the page's top (what pub/sub lost is read back first, see
   * HistoryStreams.reach): a joining socket attached now gets none of the page's broadcasts
   * twice. (A marker lost in an outage costs a bounded wait, MARKER_WAIT_MS.) Reads of one topic
   * asked for together share one (coalesced-reads.ts).
   */
  read(topic: string, since: number, limit: number, limits: HistoryLimits): Promise<HistoryPage> {
    return this.reads.read(topic, since, limit, limits);
  }

  private async readOnce(topic: string, since: number, limit: number, limits: HistoryLimits): Promise<HistoryPage> {
    const { topics, connections, sender, sharded } = this.redis;
    if (!topics.hasInterest(topic)) return this.history.read(topic, since, limit, limits);
    const token = `${this.nextMarker++}`;
    const back = new Promise<void>((resolve) => this.markers.set(token, resolve));
    let page: HistoryPage;
    try {
      const marker = asBuffer(encodeMarker(sender, token));
      if (!sharded) {
        page = await this.history.read(topic, since, limit, limits, marker);
      } else {
        // Sharded: the script cannot publish to the topic's shard, so the marker follows the read.
        page = await this.history.read(topic, since, limit, limits);
        await connections.publisher.spublish(topics.channelOf(topic), marker);
      }
      await settleWithin(back, MARKER_WAIT_MS);
    } finally {
      this.markers.delete(token);
    }
    if (topics.hasInterest(topic)) await this.streams.reach(topic, page);
    return page;
  }

  /** One EVAL of the append script, on the publisher connection (so a publisher's appends keep their order). */
  private sendAppend(message: HistoryAppend): Promise<Appended> {
    const { topics, connections, sender, sharded } = this.redis;
    this.options.metrics.fabricSent.inc();
    const appended = this.history.append(message);
    appended
      .then(
        (numbered) => {
          if (!sharded) return;
          const bytes = encodeNumbered(sender, { ...message, ...numbered });
          return connections.publisher.spublish(topics.channelOf(message.topic), asBuffer(bytes));
        },
        (err: unknown) => {
          topics.drop();
          this.options.log.warn({ err, topic: message.topic }, "a history broadcast could not be stored");
        },
      )
      .catch(() => topics.drop());
    return appended;
  }

  /** Resolves once the publishing connection is ready, or after `ms` (what is sent then fails as it would have). */
  private async publisherReady(ms: number): Promise<void> {
    const { connections } = this.redis;
    if (connections.isReady("publisher")) return;
    let stop = () => {};
    const ready = new Promise<void>((resolve) => {
      stop = connections.onReady((role) => role === "publisher" && resolve());
    });
    await settleWithin(ready, ms);
    stop();
  }
}

/**
 * Why an append failed: Redis answered with an error (the script failed: nothing was kept), the
 * command could not be written (not sent), or the connection went with the command on its way
 * (it may have run: the outcome is not known, as after a timeout).
 */
function appendFailure(err: unknown): StoreFailure {
  if (err instanceof ReplyError) return "failed";
  if (err instanceof Error && err.message.startsWith("Stream isn't writeable")) return "unavailable";
  return "timeout";
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
