import type { MessagePort } from "node:worker_threads";
import type { MeshMessage } from "./mesh-messages.js";

type Handler = (from: number, message: MeshMessage) => void;

/**
 * This worker's links to the other workers of the node: one MessagePort per peer, set up by
 * the main thread. MessagePorts keep order per sender, which keeps broadcast order per publisher.
 */
export class PeerMesh {
  private readonly ports = new Map<number, MessagePort>();
  private readonly handlers: Handler[] = [];
  private readonly upListeners: Array<(index: number) => void> = [];
  private readonly downListeners: Array<(index: number) => void> = [];

  constructor(readonly self: number) {}

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

  peers(): IterableIterator<number> {
    return this.ports.keys();
  }

  get size(): number {
    return this.ports.size;
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
