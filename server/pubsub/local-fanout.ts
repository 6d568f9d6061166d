import type { Frame } from "../../client/codec/frame.js";
import { jsonSerializer, type EncodedFrame, type Serializer } from "../../client/codec/serializer.js";
import type { Payload } from "./payload.js";
import type { EncodedBroadcast } from "../fabric/encoded-broadcast.js";
import type { Fabric } from "../fabric/fabric.js";
import { RecentFrames } from "../history/recent-frames.js";
import type { Logger } from "../ops/logger.js";
import type { PubsubMetrics } from "./pubsub-metrics.js";
import type { PublishQueue } from "./publish-queue.js";
import type { Subscriber, SubscriberSocket } from "./subscriber.js";
import { BehindSubscribers, type BehindSettings, type HistoryReader } from "./behind-subscribers.js";
import type { PresenceMode } from "./presence-mode.js";
import { audienceKey, behindKey, quietKey } from "./topic-key.js";

/** Who a delivery is for: every subscriber, or only those following presence one way. */
export type Audience = "all" | PresenceMode;

/** A topic and how many subscribers it has (on one thread, one node, or the cluster). */
export interface TopicCount {
  topic: string;
  subscribers: number;
}

/** One topic's local subscribers. All of them share the handler the router chose for the topic. */
interface TopicSubscribers {
  /** The topic, as its first subscriber named it (see `intern`). */
  topic: string;
  handler: Subscriber["handler"];
  /** Attached subscribers. */
  count: number;
  /**
   * The attached subscribers themselves, kept only where a broadcast may need them one by one:
   * a handler that intercepts (handleOut) or a history topic (a broadcast_from names the socket
   * it skips). Elsewhere uWS holds the memberships and a set would cost every subscription.
   */
  subscribers: Set<Subscriber> | null;
  /** Subscribers waiting for the fabric to route the topic here; they get nothing until then. */
  waiting: Set<Subscriber>;
  /** Subscribers per serializer, so only serializers in use are encoded: those following presence as a list… */
  perSerializer: Map<Serializer, number>;
  /** …and as a count (see audienceKey). */
  countSerializers: Map<Serializer, number>;
  /** List subscribers kept off presence_diff while they wait for a presence_state (see quietKey), counted apart from perSerializer. */
  quiet: Set<Subscriber>;
  quietSerializers: Map<Serializer, number>;
  /** Settles once the fabric routes the topic here; null once it has. */
  routing: Promise<void> | null;
  /** On a history topic: the last frames that reached this thread (see RecentFrames). */
  recent: RecentFrames | undefined;
  /** Server code receiving the topic's broadcasts (see `listen`). */
  listeners: Set<TopicListener>;
  /** On a history topic: the last numbered frame that reached this thread (a subscriber falling behind stopped there). */
  last: { offset: number; epoch: string } | undefined;
  /** When its subscribers' unread bytes were last looked at (behindBytes)… */
  sweptAt: number;
  /** …and the bytes of the frames published since. */
  unsweptBytes: number;
}

/** How often a topic's subscribers are looked at for unread bytes past behindBytes, at most, ms. */
const BEHIND_SWEEP_MS = 100;

/** Server code that receives a topic's broadcasts (a topic worker's `subscribe`). */
export type TopicListener = (event: string, payload: Payload) => void;

/** What else follows this thread's interest in its topics: the topic workers (topic-workers/topic-workers.ts). */
export interface InterestFollower {
  /** This thread gained its first (true) or lost its last (false) subscriber of `topic`. */
  interest(topic: string, interested: boolean): void;
}

export interface LocalFanoutOptions {
  queue: PublishQueue;
  log: Logger;
  metrics: PubsubMetrics;
  /** Told when this thread gains its first or loses its last subscriber of a topic: it routes the topic's broadcasts here. */
  fabric: Pick<Fabric, "setInterest">;
  /** Told the same, after the fabric. */
  follower: InterestFollower;
  /** When subscribers leave the live stream for unread bytes (behind-subscribers.ts); default: never. */
  behind?: BehindSettings;
}

/**
 * This thread's topic registry and delivery: every broadcast that reaches this thread, from
 * local code or from the fabric, ends here. Fast path: encode once per serializer and let uWS
 * publish natively. Intercepted events go through each subscriber's `handleOut`.
 */
export class LocalFanout {
  private readonly topics = new Map<string, TopicSubscribers>();
  private subscriptions = 0;
  private readonly behind: BehindSubscribers;

  constructor(private readonly options: LocalFanoutOptions) {
    this.behind = new BehindSubscribers(
      options.behind ?? { watermark: 0, maxKeys: 0 },
      {
        setLive: (subscriber, live) => this.setLive(subscriber, live),
        lastNumbered: (topic) => this.topics.get(topic)?.last,
        intercepts: (subscriber, event) => intercepts(subscriber.handler, event),
      },
      options.metrics,
      options.log,
    );
  }

  /** Where subscribers behind on a history topic are caught up from (the thread's history authority). */
  readHistoryWith(reader: HistoryReader): void {
    this.behind.readHistoryWith(reader);
  }

  /** A socket took some of its unread bytes: its subscribers behind may catch up. */
  drained(socket: SubscriberSocket): void {
    this.behind.drained(socket);
  }

  /** Subscribers on this thread off a topic's live stream, catching up (behindBytes). */
  get behindCount(): number {
    return this.behind.count;
  }

  /**
   * Adds a joined subscriber. While the fabric routes a new topic here (the first subscriber
   * told it), every subscriber of the topic, not only the first, waits: the returned promise
   * settles once it is attached, and the join reply waits for it, so no message published after
   * the reply can miss this subscriber. Returns nothing when it is attached at once.
   */
  subscribe(subscriber: Subscriber): Promise<void> | void {
    const entry = this.entryOf(subscriber);
    // Routed already (the common case): attached at once, without passing through `waiting`.
    if (!entry.routing) return this.attach(entry, subscriber);
    entry.waiting.add(subscriber);
    return entry.routing.then(() => void this.attachPrepared(subscriber));
  }

  /**
   * The first half of `subscribe`: the topic is routed here (the promise settles once it is), and
   * its broadcasts reach this thread, but not yet `subscriber`, which waits for `attachPrepared`
   * (a join on a history topic reads what it missed in between).
   */
  prepare(subscriber: Subscriber): Promise<void> | undefined {
    const entry = this.entryOf(subscriber);
    entry.waiting.add(subscriber);
    return entry.routing ?? undefined;
  }

  /** Attaches a prepared subscriber; false when it left meanwhile. */
  attachPrepared(subscriber: Subscriber): boolean {
    const entry = this.topics.get(subscriber.topic);
    if (!entry?.waiting.delete(subscriber)) return false;
    this.attach(entry, subscriber);
    return true;
  }

  /**
   * Server code receiving every broadcast of `topic` that reaches this thread; it counts as a
   * subscriber, so the topic is routed here meanwhile. `handler` is the topic's channel (as a
   * socket joining it would get). Returns the way to stop listening.
   */
  listen(topic: string, handler: Subscriber["handler"], listener: TopicListener): () => void {
    const entry = this.entryFor(topic, handler);
    entry.listeners.add(listener);
    return () => {
      if (entry.listeners.delete(listener)) this.dropIfEmpty(topic, entry);
    };
  }

  /** The frames of a history topic that recently reached this thread. */
  recent(topic: string): RecentFrames | undefined {
    return this.topics.get(topic)?.recent;
  }

  unsubscribe(subscriber: Subscriber): void {
    const entry = this.topics.get(subscriber.topic);
    if (!entry) return;
    if (entry.waiting.delete(subscriber)) return this.dropIfEmpty(subscriber.topic, entry);
    if (!subscriber.attached) return;
    subscriber.attached = false;
    entry.subscribers?.delete(subscriber);
    entry.count--;
    this.subscriptions--;
    const { serializer } = subscriber.socket;
    if (this.behind.has(subscriber)) {
      // Off the live stream already: its counts and uWS topic were given up then.
      this.behind.forget(subscriber);
      entry.quiet.delete(subscriber);
      subscriber.socket.unsubscribe(behindKey(serializer, subscriber.topic));
    } else if (entry.quiet.delete(subscriber)) {
      addCount(entry.quietSerializers, serializer, -1);
      subscriber.socket.unsubscribe(quietKey(serializer, subscriber.topic));
    } else {
      const mode = subscriber.presenceMode ?? "list";
      addCount(mode === "list" ? entry.perSerializer : entry.countSerializers, serializer, -1);
      subscriber.socket.unsubscribe(audienceKey(serializer, subscriber.topic, mode));
    }
    this.dropIfEmpty(subscriber.topic, entry);
  }

  /**
   * Takes a list subscriber off the topic's presence_diff stream (`quiet`), or puts it back; it
   * keeps every other broadcast either way, in order. False when it is not an attached list
   * subscriber (nothing changes then).
   */
  setQuiet(subscriber: Subscriber, quiet: boolean): boolean {
    const entry = this.topics.get(subscriber.topic);
    if (!entry || !subscriber.attached || (subscriber.presenceMode ?? "list") !== "list") return false;
    if (entry.quiet.has(subscriber) === quiet) return true;
    if (this.behind.has(subscriber)) {
      // Off the live stream: it takes the right uWS topic when it goes back on it (setLive).
      if (quiet) entry.quiet.add(subscriber);
      else entry.quiet.delete(subscriber);
      return true;
    }
    const { serializer } = subscriber.socket;
    const listKey = audienceKey(serializer, subscriber.topic, "list");
    const offKey = quietKey(serializer, subscriber.topic);
    if (quiet) {
      entry.quiet.add(subscriber);
      addCount(entry.perSerializer, serializer, -1);
      addCount(entry.quietSerializers, serializer, 1);
    } else {
      entry.quiet.delete(subscriber);
      addCount(entry.quietSerializers, serializer, -1);
      addCount(entry.perSerializer, serializer, 1);
    }
    // Subscribed first, unsubscribed second: the socket never leaves uWS's topic tree, where the
    // broadcasts published to it and not yet written wait (see behindKey).
    subscriber.socket.subscribe(quiet ? offKey : listKey);
    subscriber.socket.unsubscribe(quiet ? listKey : offKey);
    return true;
  }

  /** List subscribers of `topic` on this thread kept off presence_diff right now. */
  quietOf(topic: string): number {
    return this.topics.get(topic)?.quiet.size ?? 0;
  }

  /**
   * Deliver to local subscribers of `topic`, except `from` (broadcast_from). `json` is the V2
   * JSON frame when the caller already encoded it (to share it with the fabric). A payload that
   * one serializer cannot encode is logged and counted, and skipped for that serializer only.
   */
  deliver(topic: string, event: string, payload: Payload, from: Subscriber | null = null, json?: EncodedFrame, audience: Audience = "all"): void {
    this.deliverFrame(topic, event, payload, from, json, audience, false);
  }

  /** `deliver`; a `numbered` frame (a history topic's) reaches subscribers behind through history instead. */
  private deliverFrame(topic: string, event: string, payload: Payload, from: Subscriber | null, json: EncodedFrame | undefined, audience: Audience, numbered: boolean): void {
    const entry = this.topics.get(topic);
    if (!entry) return;
    if (entry.listeners.size > 0) this.tellListeners(entry, event, payload);
    if (!numbered && entry.subscribers && this.behind.applies(entry.handler)) {
      if (entry.handler.conflate) {
        // Its size counts toward the next look at the subscribers (sweepBehind); JSON subscribers use it as it is.
        json ??= this.encode(jsonSerializer, { joinRef: null, ref: null, topic, event, payload });
        this.sweepBehind(entry, json ? sizeOf(json) : 0);
      }
      const behind = this.behind.of(topic);
      if (behind) for (const subscriber of [...behind]) if (subscriber !== from && reaches(entry, subscriber, audience)) this.behind.take(subscriber, event, payload, audience === "all");
    }
    if (entry.subscribers && intercepts(entry.handler, event)) {
      const targets = [...entry.subscribers].filter((subscriber) => !this.behind.has(subscriber) && reaches(entry, subscriber, audience));
      this.options.metrics.deliveries.inc(targets.length - (from && targets.includes(from) ? 1 : 0));
      this.options.queue.run(() => {
        for (const subscriber of targets) if (subscriber !== from) subscriber.deliverOut(event, payload);
      });
      return;
    }
    this.countDeliveries(entry, audience, from);
    const frame: Frame = { joinRef: null, ref: null, topic, event, payload };
    // Both audiences may share a serializer: encode once (the common case has one audience, no cache).
    const shared = audience === "all" && (entry.countSerializers.size > 0 || entry.quietSerializers.size > 0) ? new Map<Serializer, EncodedFrame | undefined>() : undefined;
    const encodedFor = (serializer: Serializer) => {
      if (serializer === jsonSerializer && json) return json;
      if (!shared) return this.encode(serializer, frame);
      if (!shared.has(serializer)) shared.set(serializer, this.encode(serializer, frame));
      return shared.get(serializer);
    };
    for (const mode of AUDIENCES) {
      if (audience !== "all" && audience !== mode) continue;
      for (const serializer of (mode === "list" ? entry.perSerializer : entry.countSerializers).keys()) {
        const bytes = encodedFor(serializer);
        if (bytes) this.options.queue.publish(audienceKey(serializer, topic, mode), bytes, from?.socket ?? null);
      }
    }
    if (audience !== "all") return;
    for (const serializer of entry.quietSerializers.keys()) {
      const bytes = encodedFor(serializer);
      if (bytes) this.options.queue.publish(quietKey(serializer, topic), bytes, from?.socket ?? null);
    }
  }

  /** Whether `topic` has subscribers here that follow its presence as a count. */
  countsPresence(topic: string): boolean {
    return (this.topics.get(topic)?.countSerializers.size ?? 0) > 0;
  }

  /**
   * A broadcast that arrives already encoded as a V2 JSON frame (from another worker or node).
   * JSON subscribers get the bytes as they are; the payload is decoded only when msgpack
   * subscribers or handleOut need it.
   */
  deliverEncoded(message: EncodedBroadcast): void {
    const { topic, event } = message;
    const entry = this.topics.get(topic);
    if (!entry) return;
    const json: EncodedFrame = { data: message.frame, binary: typeof message.frame !== "string" };
    const numbered = message.offset !== undefined && message.epoch !== undefined;
    if (message.offset !== undefined && message.epoch !== undefined) {
      if (typeof message.frame === "string") entry.recent?.record(message.offset, message.epoch, message.frame);
      if (entry.subscribers && this.behind.applies(entry.handler)) {
        // Before `last` moves: a subscriber taken off now was queued everything up to it.
        this.sweepBehind(entry, sizeOf(json));
        entry.last = { offset: message.offset, epoch: message.epoch };
        this.behind.numbered(topic, message.offset, message.epoch);
      } else entry.last = { offset: message.offset, epoch: message.epoch };
    }
    const from = message.except === undefined ? null : this.subscriberOn(entry, message.except);
    // A conflating topic's broadcast from another thread: subscribers behind keep it by its key,
    // which takes its payload (the fast path below never decodes it).
    const conflating = !numbered && entry.handler.conflate !== undefined && entry.subscribers !== null && this.behind.applies(entry.handler);
    if (conflating) this.sweepBehind(entry, sizeOf(json));
    const holding = conflating && this.behind.of(topic) !== undefined;
    if (!holding && onlyJson(entry.perSerializer) && onlyJson(entry.countSerializers) && onlyJson(entry.quietSerializers) && entry.listeners.size === 0 && !intercepts(entry.handler, event)) {
      this.countDeliveries(entry, "all", from);
      for (const mode of AUDIENCES) {
        const counts = mode === "list" ? entry.perSerializer : entry.countSerializers;
        if (counts.size > 0) this.options.queue.publish(audienceKey(jsonSerializer, topic, mode), json, from?.socket ?? null);
      }
      if (entry.quietSerializers.size > 0) this.options.queue.publish(quietKey(jsonSerializer, topic), json, from?.socket ?? null);
      return;
    }
    const { payload } = jsonSerializer.decode(json.data, "toClient");
    this.deliverFrame(topic, event, payload as Payload, from, json, "all", numbered);
  }

  /** Encodes a frame, or logs and counts why it cannot be. */
  encode(serializer: Serializer, frame: Frame): EncodedFrame | undefined {
    try {
      return serializer.encode(frame, "toClient");
    } catch (err) {
      this.options.metrics.encodeErrors.inc({ serializer: serializer.name });
      this.options.log.warn({ err, topic: frame.topic, event: frame.event, serializer: serializer.name }, "broadcast payload cannot be encoded; skipped for this serializer");
      return undefined;
    }
  }

  /**
   * The registry's copy of `topic` when it has one: every frame decodes a fresh string, and a
   * million subscriptions to a few topics should not hold a million copies of their names.
   */
  intern(topic: string): string {
    return this.topics.get(topic)?.topic ?? topic;
  }

  /** Subscribers of `topic` on this thread. */
  subscribersOf(topic: string): number {
    return this.topics.get(topic)?.count ?? 0;
  }

  /**
   * This thread's `limit` topics with the most subscribers, most first. One pass over the
   * thread's topics, keeping a small sorted list (the dashboard asks once a second).
   */
  topTopics(limit: number): TopicCount[] {
    const top: TopicCount[] = [];
    for (const [topic, entry] of this.topics) {
      const subscribers = entry.count;
      if (subscribers === 0 || (top.length === limit && subscribers <= top[top.length - 1].subscribers)) continue;
      let at = top.length;
      while (at > 0 && top[at - 1].subscribers < subscribers) at--;
      top.splice(at, 0, { topic, subscribers });
      if (top.length > limit) top.pop();
    }
    return top;
  }

  /** Number of subscriptions on this thread (for /health and metrics). */
  get subscriptionCount(): number {
    return this.subscriptions;
  }

  get topicCount(): number {
    return this.topics.size;
  }

  /** One delivery per subscriber reached (the sender of a broadcast_from excluded): the fast paths publish natively, so they are counted here. */
  private countDeliveries(entry: TopicSubscribers, audience: Audience, from: Subscriber | null): void {
    let reached = from?.attached && from.topic === entry.topic && !this.behind.has(from) ? -1 : 0;
    for (const mode of AUDIENCES) {
      if (audience !== "all" && audience !== mode) continue;
      for (const count of (mode === "list" ? entry.perSerializer : entry.countSerializers).values()) reached += count;
    }
    // The quiet ones on the live stream: a quiet subscriber behind is in `quiet` but not here.
    if (audience === "all") for (const count of entry.quietSerializers.values()) reached += count;
    if (reached > 0) this.options.metrics.deliveries.inc(reached);
  }

  private tellListeners(entry: TopicSubscribers, event: string, payload: Payload): void {
    for (const listener of entry.listeners) {
      try {
        listener(event, payload);
      } catch (err) {
        this.options.log.error({ err, event }, "a topic listener threw");
      }
    }
  }

  private entryOf(subscriber: Subscriber): TopicSubscribers {
    return this.entryFor(subscriber.topic, subscriber.handler);
  }

  private entryFor(topic: string, handler: Subscriber["handler"]): TopicSubscribers {
    const entry = this.topics.get(topic);
    if (entry) return entry;
    const { history } = handler;
    const created: TopicSubscribers = {
      topic,
      handler,
      count: 0,
      listeners: new Set(),
      subscribers: handler.history || handler.conflate || (handler.handleOut && handler.intercept?.length) ? new Set() : null,
      waiting: new Set(),
      perSerializer: new Map(),
      countSerializers: new Map(),
      quiet: new Set(),
      quietSerializers: new Map(),
      routing: null,
      recent: history ? new RecentFrames(Math.min(history.size, MAX_RECENT_FRAMES)) : undefined,
      last: undefined,
      sweptAt: 0,
      unsweptBytes: 0,
    };
    this.topics.set(topic, created);
    const routed = this.interest(topic, true);
    if (routed) {
      const settled = () => {
        if (created.routing === routing) created.routing = null;
      };
      const routing: Promise<void> = routed.then(settled, settled);
      created.routing = routing;
    }
    return created;
  }

  /** The local subscriber on socket `socketId` (a history broadcast_from skips it). */
  private subscriberOn(entry: TopicSubscribers, socketId: string): Subscriber | null {
    if (entry.subscribers) for (const subscriber of entry.subscribers) if (subscriber.socket.id === socketId) return subscriber;
    return null;
  }

  private attach(entry: TopicSubscribers, subscriber: Subscriber): void {
    if (subscriber.attached) return;
    subscriber.attached = true;
    entry.subscribers?.add(subscriber);
    entry.count++;
    this.subscriptions++;
    const { serializer } = subscriber.socket;
    const mode = subscriber.presenceMode ?? "list";
    const counts = mode === "list" ? entry.perSerializer : entry.countSerializers;
    counts.set(serializer, (counts.get(serializer) ?? 0) + 1);
    subscriber.socket.subscribe(audienceKey(serializer, subscriber.topic, mode));
  }

  /**
   * Takes the topic's subscribers past behindBytes off its live stream, before a frame of `bytes`
   * is queued: every BEHIND_SWEEP_MS, and sooner once behindBytes of frames went out since the
   * last look. By time alone, a publisher going flat out (a turn of the event loop after another,
   * each writing its frames) filled a LongPoll session's outbox (1 MiB by default) between two
   * looks and ended it; now a subscriber is looked at again before it gets more than behindBytes
   * and a turn's frames past the watermark.
   */
  private sweepBehind(entry: TopicSubscribers, bytes: number): void {
    if (!entry.subscribers) return;
    const now = Date.now();
    if (now - entry.sweptAt >= BEHIND_SWEEP_MS || entry.unsweptBytes >= this.behind.watermark) {
      entry.sweptAt = now;
      entry.unsweptBytes = 0;
      this.behind.sweep(entry.subscribers);
    }
    entry.unsweptBytes += bytes;
  }

  /**
   * Takes an attached subscriber off its uWS topic and its serializer's count (it is behind), or
   * puts it back, in order with the publish queue: it gets what was queued before, nothing after.
   */
  private setLive(subscriber: Subscriber, live: boolean): void {
    const entry = this.topics.get(subscriber.topic);
    if (!entry || !subscriber.attached) return;
    const { serializer } = subscriber.socket;
    const quiet = entry.quiet.has(subscriber);
    const mode = subscriber.presenceMode ?? "list";
    const counts = quiet ? entry.quietSerializers : mode === "list" ? entry.perSerializer : entry.countSerializers;
    const key = quiet ? quietKey(serializer, subscriber.topic) : audienceKey(serializer, subscriber.topic, mode);
    const placeholder = behindKey(serializer, subscriber.topic);
    addCount(counts, serializer, live ? 1 : -1);
    // Subscribed first, unsubscribed second: the socket never leaves uWS's topic tree (see behindKey).
    subscriber.socket.subscribe(live ? key : placeholder);
    subscriber.socket.unsubscribe(live ? placeholder : key);
  }

  private dropIfEmpty(topic: string, entry: TopicSubscribers): void {
    if (entry.count > 0 || entry.waiting.size > 0 || entry.listeners.size > 0 || this.topics.get(topic) !== entry) return;
    this.topics.delete(topic);
    this.interest(topic, false);
  }

  /** The topic workers follow the interest; the fabric's answer says when a new topic is routed here. */
  private interest(topic: string, interested: boolean): Promise<void> | void {
    this.options.follower.interest(topic, interested);
    return this.options.fabric.setInterest(topic, interested);
  }
}

const AUDIENCES: readonly PresenceMode[] = ["list", "count"];

/** Adds `delta` to a serializer's count, forgetting serializers that reach 0. */
function addCount(counts: Map<Serializer, number>, serializer: Serializer, delta: number): void {
  const count = (counts.get(serializer) ?? 0) + delta;
  if (count <= 0) counts.delete(serializer);
  else counts.set(serializer, count);
}

/** Whether a delivery to `audience` is for `subscriber` (presence diffs skip members that follow it otherwise, or are quiet). */
function reaches(entry: TopicSubscribers, subscriber: Subscriber, audience: Audience): boolean {
  return audience === "all" || ((subscriber.presenceMode ?? "list") === audience && !(audience === "list" && entry.quiet.has(subscriber)));
}

/** No serializer but JSON in use (or none at all). */
function onlyJson(counts: Map<Serializer, number>): boolean {
  return counts.size === 0 || (counts.size === 1 && counts.has(jsonSerializer));
}

/** A thread keeps at most this many recent frames per history topic. */
const MAX_RECENT_FRAMES = 1000;

/** Whether the handler's `handleOut` sees `event` (Phoenix's intercept). */
export function intercepts(handler: Subscriber["handler"], event: string): boolean {
  return handler.handleOut !== undefined && handler.intercept?.includes(event) === true;
}

/** An encoded frame's length: bytes, or characters of a text frame (as the unread bytes of a LongPoll session count them). */
function sizeOf(frame: EncodedFrame): number {
  return typeof frame.data === "string" ? frame.data.length : frame.data.byteLength;
}
