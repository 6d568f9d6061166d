import type { Logger } from "../ops/logger.js";
import type { HistoryMetrics } from "./history-metrics.js";
import type { EncodedBroadcast } from "../fabric/encoded-broadcast.js";
import type { HistoryPage } from "./history.js";

/**
 * Arrivals one topic keeps behind a refill. Past it they are not kept: the stream has them, and
 * the next arrival after the refill sees the jump and reads them back.
 */
const MAX_WAITING = 10_000;

/** Where a node's subscribers of one history topic are. */
interface Stream {
  /** The epoch of the last offset delivered, and that offset. */
  epoch: string;
  last: number;
  /** Set while a refill runs; settles once it and the arrivals that waited behind it are delivered. */
  refilling: Promise<void> | null;
  /** Arrivals behind the refill, in order. */
  waiting: EncodedBroadcast[];
}

export interface HistoryStreamsOptions {
  /** Reads up to `limit` entries of a topic's history after offset `since`, from the authority. */
  read: (topic: string, since: number, limit: number) => Promise<HistoryPage>;
  /** Hands a broadcast to this node's subscribers. */
  deliver: (message: EncodedBroadcast) => void;
  metrics: HistoryMetrics;
  log: Logger;
}

/**
 * The history topics a node receives through Redis pub/sub, and where its subscribers are in
 * each: an epoch and the last offset delivered. Pub/sub loses what is published while the node's
 * subscription is not in place (a reconnect, a Redis restart); the topic's stream keeps it. So
 * what the node missed is read back once for all its subscribers, in order, before what arrived
 * after it:
 * - an offset jump inside an epoch: the offsets in between;
 * - another epoch (the history started again: Redis restarted empty or flushed, the topic
 *   expired): the new epoch from its first offset, so subscribers that stayed connected get
 *   every message stored in it, however late this node subscribed again;
 * - a join's page ahead of what arrived (its read saw a later offset or another epoch): the node
 *   catches up first (`reach`), so the joiner, attached next, is not sent those again.
 * A read is bounded by the topic's history size (the stream keeps no more). What the stream no
 * longer holds, or a failed read, is lost to the live subscribers: counted and logged. Arrivals
 * wait behind a refill, in order, for one Redis read; at most MAX_WAITING of them per topic.
 */
export class HistoryStreams {
  private readonly streams = new Map<string, Stream>();

  constructor(private readonly options: HistoryStreamsOptions) {}

  /** A history broadcast as pub/sub brought it. */
  receive(message: EncodedBroadcast): void {
    const stream = this.streams.get(message.topic);
    if (!stream) {
      this.streams.set(message.topic, { epoch: message.epoch as string, last: message.offset as number, refilling: null, waiting: [] });
      return this.options.deliver(message);
    }
    if (stream.refilling) {
      if (stream.waiting.length < MAX_WAITING) stream.waiting.push(message);
      return;
    }
    this.advance(stream, message);
  }

  /**
   * A join's page, read at its point of the stream (see RedisHistoryAuthority.read). Once this
   * settles, every offset up to the page's top has been delivered here (or counted as lost), so
   * the joiner can be attached without being sent any of them again.
   */
  async reach(topic: string, page: HistoryPage): Promise<void> {
    if (page.epoch === "") return;
    for (;;) {
      const stream = this.streams.get(topic);
      // Nothing arrived yet: the subscribers are where the page is.
      if (!stream) return void this.streams.set(topic, { epoch: page.epoch, last: page.top, refilling: null, waiting: [] });
      if (stream.refilling) {
        await stream.refilling;
        continue;
      }
      if (stream.epoch === page.epoch && stream.last >= page.top) return;
      return this.refill(topic, stream, page.epoch, page.top, "join");
    }
  }

  /** The node no longer receives `topic`. */
  forget(topic: string): void {
    this.streams.delete(topic);
  }

  private advance(stream: Stream, message: EncodedBroadcast): void {
    const offset = message.offset as number;
    const epoch = message.epoch as string;
    if (epoch === stream.epoch) {
      if (offset <= stream.last) return; // a refill brought it already
      if (offset === stream.last + 1) {
        stream.last = offset;
        return this.options.deliver(message);
      }
    } else if (offset === 1) {
      // Another epoch, from its start: nothing of it to read back.
      stream.epoch = epoch;
      stream.last = offset;
      return this.options.deliver(message);
    }
    stream.waiting.push(message);
    void this.refill(message.topic, stream, epoch, offset - 1, "arrival");
  }

  /**
   * Brings `stream` to offset `upTo` of `epoch`, reading back what it lacks; then what waited
   * behind it goes on. `cause`: a join whose page turns out to be of an epoch already over
   * leaves the stream as it is (what arrives next decides); an arrival always moves it, since
   * it is delivered next.
   */
  private refill(topic: string, stream: Stream, epoch: string, upTo: number, cause: "arrival" | "join"): Promise<void> {
    const done = this.readBack(topic, stream, epoch, upTo, cause).then(() => {
      stream.refilling = null;
      this.drain(topic, stream);
    });
    stream.refilling = done;
    return done;
  }

  private async readBack(topic: string, stream: Stream, epoch: string, upTo: number, cause: "arrival" | "join"): Promise<void> {
    const from = stream.epoch === epoch ? stream.last : 0;
    let refilled = 0;
    let current = true;
    if (upTo > from) {
      try {
        const page = await this.options.read(topic, from, upTo - from);
        current = page.epoch === epoch;
        // In order from `from`; the first ones may have been trimmed from the stream already.
        for (const entry of current ? page.entries : []) {
          if (entry.offset > upTo || this.streams.get(topic) !== stream) break;
          stream.epoch = epoch;
          stream.last = entry.offset;
          refilled++;
          this.options.deliver({ topic, event: eventOf(entry.frame), frame: entry.frame, offset: entry.offset, epoch });
        }
      } catch (err) {
        this.options.log.warn({ err, topic }, "could not read back history broadcasts missed from Redis pub/sub");
      }
    }
    if (refilled > 0) this.options.metrics.historyRefills.inc(refilled);
    if (!current && cause === "join") return;
    // What could not be read back is gone for the live subscribers: carry on from `upTo`.
    const lost = upTo - from - refilled;
    stream.epoch = epoch;
    stream.last = upTo;
    if (lost <= 0) return;
    this.options.metrics.historyUnrefilled.inc(lost);
    this.options.log.warn({ topic, epoch, from, upTo, lost }, "history broadcasts missed from Redis pub/sub could not be read back (no longer in the topic's stream)");
  }

  private drain(topic: string, stream: Stream): void {
    if (this.streams.get(topic) !== stream) return;
    const waiting = stream.waiting;
    stream.waiting = [];
    for (let i = 0; i < waiting.length; i++) {
      // An arrival started another refill: the rest waits behind it, in order.
      if (stream.refilling) return void stream.waiting.push(...waiting.slice(i));
      this.advance(stream, waiting[i]);
    }
  }
}

/** The event of a stored V2 JSON frame (only read-back frames need it). */
function eventOf(frame: string): string {
  return String((JSON.parse(frame) as unknown[])[3]);
}
