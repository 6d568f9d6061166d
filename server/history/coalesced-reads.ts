import type { HistoryLimits, HistoryPage } from "./history.js";

/** One read of a topic's history, as the store answers it. */
export type ReadHistory = (topic: string, since: number, limit: number, limits: HistoryLimits) => Promise<HistoryPage>;

export interface CoalescedReadsOptions {
  /** The store's read (with its marker and read-back: history-redis.ts). */
  read: ReadHistory;
  /**
   * Reads of one topic one store read may serve at most (historyReadCoalesceMax); a read past it
   * goes to the store on its own. 1: none shared.
   */
  maxPerRead: number;
  /** A read asked for (served whole from a shared store read or not). */
  onAsked(): void;
  /** A read sent to the store. */
  onSent(): void;
}

interface Waiting {
  since: number;
  limit: number;
  resolve(page: HistoryPage): void;
  reject(err: unknown): void;
}

/** A store read on its way: where it starts, and the readers who came after it was sent and may be served by it. */
interface InFlight {
  since: number;
  riders: Waiting[];
}

interface TopicReads {
  limits: HistoryLimits;
  /** The reads the next store read serves (it is sent in the next turn, or once the one in flight is back). */
  next: Waiting[];
  inFlight: InFlight | null;
}

/**
 * Reads of one topic's history asked for at about the same time share one store read. After a
 * node dies, its clients rejoin the same rooms on the survivors within a second, each asking for
 * the history after its own offset: one read from the lowest offset serves each its slice, so
 * the store sees one read per topic and turn (or per read in flight), not one per client.
 *
 * A read asked for waits for the next turn of the event loop, gathering every read of its topic
 * asked for in this one. While a store read of the topic is in flight, a read asked for rides on
 * it when it starts at or after that read's `since`: served from its page if the page holds its
 * slice (its `since` not past the page's top, its entries not cut short by the read's limit),
 * else gathered with the rest, which go together once it is back. Each reader is served exactly
 * what a read of its own would have given at the moment the store read was made (same epoch and
 * top, the first `limit` entries after its `since`): offsets are dense and a stream loses only its
 * oldest entries, so the entries of a read from the lowest `since`, long enough to cover every
 * reader's `since + limit`, hold each reader's slice whole. A rider is no worse off than a reader
 * gathered into that read: the page is answered before any broadcast made after it (the read's
 * marker, history-redis.ts), so what came after the page's top reaches the rider live.
 */
export class CoalescedReads {
  /** Topics with reads gathering or in flight: each entry is a read some join or API call waits on. */
  private readonly topics = new Map<string, TopicReads>();

  constructor(private readonly options: CoalescedReadsOptions) {}

  read(topic: string, since: number, limit: number, limits: HistoryLimits): Promise<HistoryPage> {
    const { options } = this;
    options.onAsked();
    let reads = this.topics.get(topic);
    if (options.maxPerRead <= 1) return this.send(topic, since, limit, limits);
    const inFlight = reads?.inFlight;
    if (inFlight && since >= inFlight.since && inFlight.riders.length < options.maxPerRead) {
      return new Promise<HistoryPage>((resolve, reject) => inFlight.riders.push({ since, limit, resolve, reject }));
    }
    if (reads && reads.next.length >= options.maxPerRead) return this.send(topic, since, limit, limits);
    if (!reads) {
      reads = { limits, next: [], inFlight: null };
      this.topics.set(topic, reads);
      setImmediate(() => this.sendNext(topic));
    }
    const gathering = reads;
    return new Promise<HistoryPage>((resolve, reject) => gathering.next.push({ since, limit, resolve, reject }));
  }

  /** Topics with reads gathering or in flight now. */
  get pendingTopics(): number {
    return this.topics.size;
  }

  private send(topic: string, since: number, limit: number, limits: HistoryLimits): Promise<HistoryPage> {
    this.options.onSent();
    return this.options.read(topic, since, limit, limits);
  }

  /** Sends one store read for every read gathered on `topic`; once it is back, the next gathered. */
  private sendNext(topic: string): void {
    const reads = this.topics.get(topic);
    if (!reads) return;
    const batch = reads.next;
    if (batch.length === 0) {
      this.topics.delete(topic);
      return;
    }
    reads.next = [];
    const { since, limit } = span(batch);
    const inFlight: InFlight = { since, riders: [] };
    reads.inFlight = inFlight;
    this.send(topic, since, limit, reads.limits)
      .then(
        (page) => {
          for (const waiting of batch) waiting.resolve(sliceOf(page, waiting.since, waiting.limit));
          for (const rider of inFlight.riders) {
            if (holdsSliceOf(page, rider.since, rider.limit)) rider.resolve(sliceOf(page, rider.since, rider.limit));
            else reads.next.push(rider); // read again, on its own moment
          }
        },
        (err: unknown) => {
          for (const waiting of batch) waiting.reject(err);
          for (const rider of inFlight.riders) rider.reject(err);
        },
      )
      .finally(() => {
        reads.inFlight = null;
        this.sendNext(topic);
      });
  }
}

/**
 * Whether `page` (read from a `since` at or before the reader's) holds what a read of the
 * reader's own would give at its moment: the epoch and top alone for a reader asking for no
 * entries; else its `since` not past the top (a reader ahead of the page's moment reads on its
 * own), and its slice whole: `limit` entries, or every entry up to the top — not one cut short by
 * the read's own limit (a stream that lost its oldest entries starts a slice later, so it may
 * reach further than `since + limit`).
 */
export function holdsSliceOf(page: HistoryPage, since: number, limit: number): boolean {
  if (limit === 0) return true;
  if (since > page.top) return false;
  const { entries } = sliceOf(page, since, limit);
  if (entries.length === limit) return true;
  const reached = entries.length > 0 ? entries[entries.length - 1].offset : since;
  return reached >= page.top;
}

/**
 * One read serving every reader of `batch`: from the lowest `since`, long enough to reach every
 * reader's `since + limit`. A reader asking for no entries (a fresh join: its `since` past any
 * offset) needs only the epoch and top, and lengthens nothing.
 */
export function span(batch: ReadonlyArray<{ since: number; limit: number }>): { since: number; limit: number } {
  let since = Number.MAX_SAFE_INTEGER;
  for (const reader of batch) since = Math.min(since, reader.since);
  let limit = 0;
  for (const reader of batch) if (reader.limit > 0) limit = Math.max(limit, reader.since - since + reader.limit);
  return { since, limit };
}

/** What a read of its own from `since`, of at most `limit` entries, would have given. */
export function sliceOf(page: HistoryPage, since: number, limit: number): HistoryPage {
  const first = page.entries.findIndex((entry) => entry.offset > since);
  const entries = first < 0 || limit === 0 ? [] : page.entries.slice(first, first + limit);
  return { epoch: page.epoch, top: page.top, entries };
}
