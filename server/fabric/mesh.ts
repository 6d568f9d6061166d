import type { MessagePort } from "node:worker_threads";
import type { MeshMessage } from "./mesh-messages.js";
import { settleWithin } from "./settle-within.js";

/** Bound on reading a peer's last messages once it ended (its port's close normally follows within a turn). */
const LAST_MESSAGES_WAIT_MS = 2000;

type Handler = (from: number, message: MeshMessage) => void;

/**
 * One thread's MessagePorts to the other threads of its node, by index (workers 0…W−1, the
 * main thread MAIN_THREAD), set up by the main thread. A MessagePort keeps order per sender, which
 * keeps broadcast order per publisher.
 */
export class PeerMesh {
  private readonly ports = new Map<number, MessagePort>();
  /** Settles when the other end of a port closed: everything it posted has been read by then. */
  private readonly closed = new WeakMap<MessagePort, Promise<void>>();
  private readonly handlers: Handler[] = [];
  private readonly upListeners: Array<(index: number) => void> = [];
  private readonly downListeners: Array<(index: number) => void> = [];

  addPeer(index: number, port: MessagePort): void {
    this.ports.get(index)?.close();
    this.ports.set(index, port);
    this.closed.set(port, new Promise((resolve) => port.once("close", () => resolve())));
    port.on("message", (message: MeshMessage) => {
      for (const handler of this.handlers) handler(index, message);
    });
    for (const listener of this.upListeners) listener(index);
  }

  /**
   * A peer thread ended: what it posted before it ended is read first, then our end closes and
   * the down listeners run. A port's close arrives behind the messages posted on it, while the
   * thread's exit (how the caller learned that it ended) can overtake them; closing our end at
   * once would drop them (a drained worker's last counter increments, its presence leaves).
   */
  async removePeer(index: number): Promise<void> {
    const port = this.ports.get(index);
    if (!port) return;
    this.ports.delete(index);
    await settleWithin(this.closed.get(port) ?? Promise.resolve(), LAST_MESSAGES_WAIT_MS);
    port.close();
    for (const listener of this.downListeners) listener(index);
  }

  has(index: number): boolean {
    return this.ports.has(index);
  }

  peers(): IterableIterator<number> {
    return this.ports.keys();
  }

  post(index: number, message: MeshMessage): void {
    this.ports.get(index)?.postMessage(message);
  }

  postAll(message: MeshMessage): void {
    for (const port of this.ports.values()) port.postMessage(message);
  }

  onMessage(handler: Handler): void {
    this.handlers.push(handler);
  }

  onPeerUp(listener: (index: number) => void): void {
    this.upListeners.push(listener);
  }

  onPeerDown(listener: (index: number) => void): void {
    this.downListeners.push(listener);
  }

  close(): void {
    for (const port of this.ports.values()) port.close();
    this.ports.clear();
  }
}
