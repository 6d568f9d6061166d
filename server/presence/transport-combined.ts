import type { ReplicaId } from "../../crdt/index.js";
import type { GossipMessage } from "./messages.js";
import type { GossipTransport } from "./transport.js";
import { workerIndexOf } from "./transport-workers.js";

/**
 * Presence gossip for a worker of a node in a cluster: sibling workers over the in-process
 * mesh, other nodes over Redis. Copies of a sibling's messages that also come through Redis
 * are dropped, since the mesh already delivered them.
 */
export class CombinedGossipTransport implements GossipTransport {
  constructor(
    private readonly siblings: GossipTransport,
    private readonly remote: GossipTransport,
    private readonly nodeName: string,
  ) {}

  broadcast(message: GossipMessage): void {
    this.siblings.broadcast(message);
    this.remote.broadcast(message);
  }

  sendTo(replica: ReplicaId, message: GossipMessage): void {
    if (this.isSibling(replica)) this.siblings.sendTo(replica, message);
    else this.remote.sendTo(replica, message);
  }

  onMessage(handler: (message: GossipMessage) => void): void {
    this.siblings.onMessage(handler);
    this.remote.onMessage((message) => {
      if (!this.isSibling(message.from)) handler(message);
    });
  }

  private isSibling(replica: ReplicaId): boolean {
    try {
      return workerIndexOf(replica, this.nodeName) !== undefined;
    } catch {
      return false;
    }
  }
}
