import type { MessagePort } from "node:worker_threads";
import type { MeshMessage } from "./mesh-messages.js";

type Handler = (from: number, message: MeshMessage) => void;

/**
 * One thread's MessagePorts to the other threads of its node, by index (workers 0…W−1, the
 * main thread MAIN_THREAD), set up by the main thread. A MessagePort keeps order per sender, which
 * keeps broadcast order per publisher.
 */
export class PeerMesh {
  private readonly ports = new Map<number, MessagePort>();
  private readonly handlers: Handler[] = [];
  private readonly upListeners: Array<(index: number) => void> = [];
  private readonly downListeners: Array<(index: number) => void> = [];

  addPeer(index: number, port: MessagePort): void {
    this.ports.get(index)?.close();
    this.ports.set(index, port);
    port.on("message", (message: MeshMessage) => {
      for (const handler of this.handlers) handler(index, message);
    });
    for (const listener of this.upListeners) listener(index);
  }

  removePeer(index: number): void {
    const port = this.ports.get(index);
    if (!port) return;
    this.ports.delete(index);
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
