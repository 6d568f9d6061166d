import { parseReplicaId, type ReplicaId } from "../../crdt/index.js";
import type { PeerMesh } from "../workers/peer-mesh.js";
import type { GossipMessage } from "./messages.js";
import type { GossipTransport } from "./transport.js";

/** Each worker is its own presence replica, named `${nodeName}/w${index}`. */
export function workerReplicaName(nodeName: string, index: number): string {
  return `${nodeName}/w${index}`;
}

/** The worker index of a replica of this node, or undefined for a replica elsewhere. */
export function workerIndexOf(replica: ReplicaId, nodeName: string): number | undefined {
  const name = parseReplicaId(replica).nodeName;
  const prefix = `${nodeName}/w`;
  if (!name.startsWith(prefix)) return undefined;
  const index = Number(name.slice(prefix.length));
  return Number.isInteger(index) ? index : undefined;
}

/**
 * Presence gossip of one shard between the workers of a node, over the peer mesh.
 * Messages are structured-cloned, so no encoding is needed.
 */
export class WorkerGossipTransport implements GossipTransport {
  private handler: (message: GossipMessage) => void = () => {};

  constructor(
    private readonly mesh: PeerMesh,
    private readonly shard: number,
    private readonly nodeName: string,
  ) {
    mesh.onMessage((_from, message) => {
      if (message.k === "gossip" && message.shard === shard) this.handler(message.message);
    });
  }

  broadcast(message: GossipMessage): void {
    this.mesh.postAll({ k: "gossip", shard: this.shard, to: null, message });
  }

  sendTo(replica: ReplicaId, message: GossipMessage): void {
    const peer = workerIndexOf(replica, this.nodeName);
    if (peer !== undefined) this.mesh.post(peer, { k: "gossip", shard: this.shard, to: replica, message });
  }

  onMessage(handler: (message: GossipMessage) => void): void {
    this.handler = handler;
  }
}
