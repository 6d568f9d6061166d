import { jsonSerializer } from "../../client/codec/serializer.js";
import type { HistoryLimits, HistoryPage } from "../history/history.js";
import type { Logger } from "../ops/logger.js";
import type { Payload } from "./payload.js";
import type { PubsubMetrics } from "./pubsub-metrics.js";
import type { Subscriber, SubscriberSocket } from "./subscriber.js";

/** Reads a history topic after offset `since` (HistoryAuthority.read). */
export type HistoryReader = (topic: string, since: number, limit: number, limits: HistoryLimits) => Promise<HistoryPage>;

/** The event a subscriber gets when history no longer covers what it missed: `_o` and `_e` say where it goes on from. */
export const GAP_EVENT = "history_gap";

/** How many frames one catch-up read asks history for. */
const PAGE = 100;

export interface BehindSettings {
  /** behindBytes: unread bytes past which a subscriber of a history or conflating topic leaves the live stream; 0: never. */
  watermark: number;
  /** conflationMaxKeys: the most keys a subscriber behind on a conflating topic holds; one more closes it (1013). */
  maxKeys: number;
}

/** What BehindSubscribers needs of the fan-out. */
export interface LiveStream {
  /** Takes `subscriber` off its topic's live frames, or puts it back, in order with the publish queue. */
  setLive(subscriber: Subscriber, live: boolean): void;
  /** The last numbered frame of `topic` that reached this thread. */
  lastNumbered(topic: string): { offset: number; epoch: string } | undefined;
  /** Whether the subscriber's handler intercepts `event` (its handleOut sees it). */
  intercepts(subscriber: Subscriber, event: string): boolean;
}

/** A subscriber behind on a history topic: where it is, and whether it is being caught up. */
interface HistoryBehind {
  readonly kind: "history";
  /** The last offset it was sent, in `epoch`. */
  offset: number;
  epoch: string;
  reading: boolean;
  /** Caught up to `offset`: it goes back on the live stream with the frame `offset + 1`. */
  ready: boolean;
}

/** A subscriber behind on a conflating topic: the latest message per key, oldest key first. */
interface ConflatedBehind {
  readonly kind: "conflated";
  readonly latest: Map<string, { event: string; payload: Payload }>;
}

type Behind = HistoryBehind | ConflatedBehind;

/**
 * Subscribers that fell behind on their reads, kept off the live stream of a topic until they
 * have read their backlog ("behind, not gone"; docs/operations.md#slow-consumers):
 *
 * - on a history topic, it is caught up from history once its socket drains, page by page, from
 *   the last offset it was sent, and goes back on the live stream at the very next offset, so it
 *   gets nothing twice and misses nothing; if history no longer holds what it missed, it gets a
 *   `history_gap` with the position it goes on from;
 * - on a topic whose channel declares `conflate`, it keeps only the latest message per key
 *   while behind (at most `maxKeys` keys: past them it is closed as a slow consumer), sent when
 *   it drains.
 *
 * Frames that are neither (presence diffs, a history topic's unnumbered events) still go to it
 * one by one. `maxBufferedBytes` still closes a socket that goes on filling up.
 */
export class BehindSubscribers {
  private readonly states = new Map<Subscriber, Behind>();
  private readonly byTopic = new Map<string, Set<Subscriber>>();
  private readonly bySocket = new Map<SubscriberSocket, Set<Subscriber>>();
  private reader: HistoryReader | null = null;

  constructor(
    private readonly settings: BehindSettings,
    private readonly live: LiveStream,
    private readonly metrics: PubsubMetrics,
    private readonly log: Logger,
  ) {}

  /** Where history topics are read from (the thread's history authority, given once it is built). */
  readHistoryWith(reader: HistoryReader): void {
    this.reader = reader;
  }

  /** behindBytes: unread bytes past which a subscriber leaves the live stream. */
  get watermark(): number {
    return this.settings.watermark;
  }

  /** Whether subscribers of a topic with this handler may fall behind rather than be sent everything. */
  applies(handler: Subscriber["handler"]): boolean {
    return this.settings.watermark > 0 && (handler.history !== undefined ? this.reader !== null : handler.conflate !== undefined);
  }

  has(subscriber: Subscriber): boolean {
    return this.states.has(subscriber);
  }

  /** The subscribers of `topic` behind right now. */
  of(topic: string): ReadonlySet<Subscriber> | undefined {
    return this.byTopic.get(topic);
  }

  get count(): number {
    return this.states.size;
  }

  /** Takes every subscriber over the watermark off the live stream (before the next frame is published). */
  sweep(subscribers: Iterable<Subscriber>): void {
    for (const subscriber of subscribers) {
      if (!this.states.has(subscriber) && subscriber.socket.bufferedBytes > this.settings.watermark) this.fallBehind(subscriber);
    }
  }

  /**
   * A numbered frame of a history topic is about to be published: a subscriber caught up to the
   * offset before it goes back on the live stream now, and gets it there.
   */
  numbered(topic: string, offset: number, epoch: string): void {
    const behind = this.byTopic.get(topic);
    if (!behind) return;
    for (const subscriber of [...behind]) {
      const state = this.states.get(subscriber);
      if (state?.kind !== "history" || !state.ready || state.reading) continue;
      if (epoch === state.epoch && offset === state.offset + 1) this.backLive(subscriber, "history");
      else if (epoch !== state.epoch || offset > state.offset) {
        // Something reached the thread that it was not sent: read again from where it is.
        state.ready = false;
        if (this.takes(subscriber)) void this.catchUp(subscriber, state);
      }
    }
  }

  /** A frame that is not numbered, for a subscriber behind: kept (conflation) or sent at once. */
  take(subscriber: Subscriber, event: string, payload: Payload, everyone: boolean): void {
    const state = this.states.get(subscriber);
    if (!state) return;
    if (state.kind === "conflated" && everyone && subscriber.handler.conflate) {
      const key = subscriber.handler.conflate(event, payload);
      if (state.latest.delete(key)) this.metrics.conflatedSuperseded.inc();
      state.latest.set(key, { event, payload });
      if (state.latest.size > this.settings.maxKeys) {
        this.metrics.conflationOverflows.inc();
        this.forget(subscriber);
        subscriber.socket.closeSlow();
      }
      return;
    }
    this.send(subscriber, event, payload);
  }

  /** The socket took some of what it had unread: its subscribers behind catch up once it is low enough. */
  drained(socket: SubscriberSocket): void {
    const subscribers = this.bySocket.get(socket);
    if (!subscribers) return;
    for (const subscriber of [...subscribers]) {
      if (!this.takes(subscriber)) return;
      const state = this.states.get(subscriber);
      if (state?.kind === "conflated") this.flush(subscriber, state);
      else if (state && !state.reading && !state.ready) void this.catchUp(subscriber, state);
    }
  }

  /** The subscriber left. */
  forget(subscriber: Subscriber): void {
    if (!this.states.delete(subscriber)) return;
    removeFrom(this.byTopic, subscriber.topic, subscriber);
    removeFrom(this.bySocket, subscriber.socket, subscriber);
  }

  private fallBehind(subscriber: Subscriber): void {
    let state: Behind;
    if (subscriber.handler.history) {
      // Everything published to the topic so far is queued for it, in order: it stopped there.
      const last = this.live.lastNumbered(subscriber.topic);
      state = { kind: "history", offset: last?.offset ?? 0, epoch: last?.epoch ?? "", reading: false, ready: false };
    } else if (subscriber.handler.conflate) {
      state = { kind: "conflated", latest: new Map() };
    } else return;
    this.live.setLive(subscriber, false);
    this.states.set(subscriber, state);
    addTo(this.byTopic, subscriber.topic, subscriber);
    addTo(this.bySocket, subscriber.socket, subscriber);
    this.metrics.fellBehind.inc({ kind: state.kind });
  }

  /** Whether its socket has read enough of its backlog to be written more. */
  private takes(subscriber: Subscriber): boolean {
    return subscriber.socket.bufferedBytes <= this.settings.watermark / 2;
  }

  private flush(subscriber: Subscriber, state: ConflatedBehind): void {
    for (const { event, payload } of state.latest.values()) this.send(subscriber, event, payload);
    this.metrics.behindResent.inc({ kind: "conflated" }, state.latest.size);
    state.latest.clear();
    this.backLive(subscriber, "conflated");
  }

  /** Reads history after its offset and sends it, until it reaches what this thread delivered; then it waits for the next frame (`numbered`). */
  private async catchUp(subscriber: Subscriber, state: HistoryBehind): Promise<void> {
    const reader = this.reader;
    const limits = subscriber.handler.history;
    if (!reader || !limits) return;
    state.reading = true;
    let page: HistoryPage;
    try {
      page = await reader(subscriber.topic, state.offset, PAGE, limits);
    } catch (err) {
      // It stays behind; the next drain or frame tries again.
      state.reading = false;
      this.log.warn({ err, topic: subscriber.topic }, "history unreadable: a subscriber behind waits to catch up");
      return;
    }
    state.reading = false;
    if (this.states.get(subscriber) !== state) return; // it left meanwhile
    const sameEpoch = page.epoch === state.epoch || (state.epoch === "" && state.offset === 0);
    const follows = page.entries.length === 0 ? page.top <= state.offset : page.entries[0].offset === state.offset + 1;
    if (!sameEpoch || !follows) {
      this.metrics.historyGaps.inc();
      subscriber.socket.send({ joinRef: null, ref: null, topic: subscriber.topic, event: GAP_EVENT, payload: { _o: page.top, _e: page.epoch, from: state.offset, epoch_was: state.epoch } });
      state.offset = page.top;
      state.epoch = page.epoch;
    } else {
      for (const entry of page.entries) this.resend(subscriber, entry.frame);
      if (page.entries.length > 0) {
        state.offset = page.entries[page.entries.length - 1].offset;
        state.epoch = page.epoch;
        this.metrics.behindResent.inc({ kind: "history" }, page.entries.length);
      }
    }
    const last = this.live.lastNumbered(subscriber.topic);
    const more = page.top > state.offset || (last !== undefined && (last.epoch !== state.epoch || last.offset > state.offset));
    if (!more) {
      state.ready = true;
      // Nothing reached the thread past it: it goes back on the live stream at once (the next
      // frame, offset + 1, comes after it in the publish queue); otherwise at that frame.
      if (last === undefined || last.offset === state.offset) this.backLive(subscriber, "history");
      return;
    }
    // The next page once the queue has written this one (at once if its socket takes more).
    setImmediate(() => {
      if (this.states.get(subscriber) === state && !state.reading && this.takes(subscriber)) void this.catchUp(subscriber, state);
    });
  }

  private backLive(subscriber: Subscriber, kind: Behind["kind"]): void {
    this.forget(subscriber);
    this.live.setLive(subscriber, true);
    this.metrics.caughtUp.inc({ kind });
  }

  /** A frame read from history, through the channel's handleOut when it intercepts its event (as it went live). */
  private resend(subscriber: Subscriber, frame: string): void {
    if (subscriber.handler.handleOut && subscriber.handler.intercept?.length) {
      const { event, payload } = jsonSerializer.decode(frame, "toClient");
      if (this.live.intercepts(subscriber, event)) return subscriber.deliverOut(event, payload as Payload);
    }
    subscriber.socket.sendJsonFrame(frame);
  }

  private send(subscriber: Subscriber, event: string, payload: Payload): void {
    if (this.live.intercepts(subscriber, event)) subscriber.deliverOut(event, payload);
    else subscriber.socket.send({ joinRef: null, ref: null, topic: subscriber.topic, event, payload });
  }
}

function addTo<K>(map: Map<K, Set<Subscriber>>, key: K, subscriber: Subscriber): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(subscriber);
}

function removeFrom<K>(map: Map<K, Set<Subscriber>>, key: K, subscriber: Subscriber): void {
  const set = map.get(key);
  if (!set?.delete(subscriber)) return;
  if (set.size === 0) map.delete(key);
}
