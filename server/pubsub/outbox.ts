import type { TemplatedApp } from "uWebSockets.js";
import type { EncodedFrame } from "../../client/codec/serializer.js";
import type { SocketConnection } from "../socket/connection.js";

type Item =
  | { kind: "send"; to: SocketConnection; frame: EncodedFrame }
  | { kind: "publish"; topicKey: string; frame: EncodedFrame; except: SocketConnection | null }
  | { kind: "run"; task: () => void };

/**
 * The thread's outbound queue: broadcasts are queued and flushed together from `setImmediate`.
 *
 * uWS buffers publishes per subscriber and drains them in one write; publishing many messages
 * to the same subscribers from inside one uWS callback is far slower than publishing them from
 * outside any callback, so broadcasts never go out synchronously.
 * A direct send skips the queue only when the queue is empty, so every socket still sees its
 * messages in the order the server produced them (a broadcast before the reply that follows it).
 */
export class Outbox {
  private items: Item[] = [];
  private scheduled = false;

  constructor(
    private readonly app: TemplatedApp,
    private readonly onDropped: (to: SocketConnection) => void,
  ) {}

  send(to: SocketConnection, frame: EncodedFrame): void {
    if (this.items.length === 0) this.write(to, frame);
    else this.items.push({ kind: "send", to, frame });
  }

  publish(topicKey: string, frame: EncodedFrame, except: SocketConnection | null): void {
    this.items.push({ kind: "publish", topicKey, frame, except });
    this.schedule();
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Runs `task` in order with the queued messages (per-subscriber work such as handleOut). */
  defer(task: () => void): void {
    this.items.push({ kind: "run", task });
    this.schedule();
  }

  /** Sends everything queued, in order. Also called on shutdown so nothing queued is lost. */
  readonly flush = (): void => {
    this.scheduled = false;
    const items = this.items;
    this.items = [];
    for (const item of items) {
      if (item.kind === "send") {
        this.write(item.to, item.frame);
      } else if (item.kind === "run") {
        item.task();
      } else if (item.except?.ws) {
        // ws.publish skips the publishing socket itself: that is broadcast_from.
        item.except.ws.publish(item.topicKey, item.frame.data, item.frame.binary);
      } else {
        this.app.publish(item.topicKey, item.frame.data, item.frame.binary);
      }
    }
  };

  private write(to: SocketConnection, frame: EncodedFrame): void {
    const ws = to.ws;
    if (!ws) return;
    // 2 = dropped: the socket is over its slow-consumer limit.
    if (ws.send(frame.data, frame.binary) === 2) this.onDropped(to);
  }
}
