import type { TemplatedApp } from "../uws-types.js";
import type { EncodedFrame } from "../../client/codec/serializer.js";
import type { Logger } from "../ops/logger.js";
import type { SubscriberSocket } from "./subscriber.js";

/** A socket with frames of its own waiting behind queued broadcasts. */
export interface QueuedWriter {
  /** Writes the next `count` frames it holds. */
  writeQueued(count: number): void;
}

type Item =
  | { kind: "publish"; topicKey: string; frame: EncodedFrame; from: SubscriberSocket | null }
  | { kind: "run"; task: () => void }
  | { kind: "writes"; writer: QueuedWriter; count: number };

/**
 * The thread's queue of broadcasts, flushed together from `setImmediate`.
 *
 * uWS buffers publishes per subscriber and drains them in one write; publishing many messages
 * to the same subscribers from inside one uWS callback is far slower than publishing them from
 * outside any callback, so broadcasts never go out synchronously. A socket keeps its own frames
 * (replies, pushes) and writes them at once while this queue is idle; otherwise it marks its
 * turn here, so it still sees everything in the order the server produced it: a broadcast
 * queued before a reply arrives before it, and a topic subscription made after a queued
 * broadcast does not receive it.
 */
export class PublishQueue {
  private items: Item[] = [];
  private scheduled = false;

  constructor(
    private readonly app: TemplatedApp,
    private readonly log: Logger,
    private readonly onItemFailed: () => void,
    /** Subscribers uWS does not know (LongPoll sessions): every publish reaches them too. */
    private readonly alsoPublish?: (topicKey: string, frame: EncodedFrame, from: SubscriberSocket | null) => void,
    /** A publish went to uWS topics (the slow-consumer sweep then reads every socket). */
    private readonly onPublished?: () => void,
  ) {}

  get idle(): boolean {
    return this.items.length === 0;
  }

  publish(topicKey: string, frame: EncodedFrame, from: SubscriberSocket | null): void {
    this.push({ kind: "publish", topicKey, frame, from });
  }

  /** Runs `task` in order with the queued broadcasts (per-subscriber work such as handleOut, a subscription). */
  run(task: () => void): void {
    this.push({ kind: "run", task });
  }

  /** `writer` queued one more frame of its own: it is written at this point of the queue. */
  writeAfter(writer: QueuedWriter): void {
    const last = this.items[this.items.length - 1];
    if (last?.kind === "writes" && last.writer === writer) last.count++;
    else this.push({ kind: "writes", writer, count: 1 });
  }

  /** Sends everything queued, in order; one failing item never holds back the others. Also called on shutdown. */
  readonly flush = (): void => {
    this.scheduled = false;
    const items = this.items;
    this.items = [];
    for (const item of items) {
      try {
        this.perform(item);
      } catch (err) {
        this.onItemFailed();
        this.log.error({ err, item: item.kind }, "a queued send failed; going on with the rest");
      }
    }
  };

  private perform(item: Item): void {
    switch (item.kind) {
      case "publish":
        // ws.publish skips the publishing socket itself: that is broadcast_from.
        if (!item.from?.publishFrom(item.topicKey, item.frame)) this.app.publish(item.topicKey, item.frame.data, item.frame.binary);
        this.alsoPublish?.(item.topicKey, item.frame, item.from);
        this.onPublished?.();
        break;
      case "run":
        item.task();
        break;
      case "writes":
        item.writer.writeQueued(item.count);
        break;
    }
  }

  private push(item: Item): void {
    this.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }
}
