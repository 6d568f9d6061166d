import { jsonSerializer, type EncodedFrame } from "../../client/codec/serializer.js";
import type { Channel } from "../channel/channel.js";
import type { MeshMessage, RemoteBroadcast } from "../workers/mesh-messages.js";
import type { PeerMesh } from "../workers/peer-mesh.js";
import type { Broker, BroadcastMessage } from "./broker.js";
import type { LocalFanout } from "./local-fanout.js";

/** How long a first join waits for peers to confirm the new interest before giving up on them. */
const INTEREST_ACK_TIMEOUT_MS = 1000;

/**
 * The fabric between the worker threads of one node. Interest-routed: a worker tells its
 * peers when it gains its first or loses its last subscriber of a topic, and a broadcast
 * crosses only to peers that have one. The publisher encodes the V2 JSON frame once; every
 * peer gets the same bytes. Broadcasts are batched per peer and flushed from setImmediate,
 * so a burst costs one postMessage per peer.
 */
export class WorkerBroker implements Broker {
  /** topic → peers with at least one subscriber. */
  private readonly remoteInterest = new Map<string, Set<number>>();
  private readonly localTopics = new Set<string>();
  private outgoing = new Map<number, RemoteBroadcast[]>();
  private flushScheduled = false;
  private nextAck = 1;
  /** ack id → peers that still have to confirm, and what to do when none remain. */
  private readonly pendingAcks = new Map<number, { waiting: Set<number>; done: () => void }>();

  constructor(
    private readonly fanout: LocalFanout,
    private readonly mesh: PeerMesh,
  ) {
    mesh.onMessage((from, message) => this.receive(from, message));
    mesh.onPeerUp((peer) => {
      // A new or restarted peer learns everything we subscribe to.
      if (this.localTopics.size > 0) mesh.post(peer, { k: "interest", topics: [...this.localTopics], on: true });
    });
    mesh.onPeerDown((peer) => {
      for (const [topic, peers] of this.remoteInterest) {
        if (peers.delete(peer) && peers.size === 0) this.remoteInterest.delete(topic);
      }
      for (const pending of this.pendingAcks.values()) this.acknowledge(peer, pending);
    });
  }

  publish(message: BroadcastMessage, from: Channel | null): void {
    const { topic, event, payload } = message;
    const peers = this.remoteInterest.get(topic);
    if (!peers) {
      this.fanout.deliver(topic, event, payload, from);
      return;
    }
    const json = jsonSerializer.encode({ joinRef: null, ref: null, topic, event, payload }, "toClient");
    this.fanout.deliver(topic, event, payload, from, json);
    const item: RemoteBroadcast = { topic, event, frame: json.data };
    for (const peer of peers) {
      let batch = this.outgoing.get(peer);
      if (!batch) this.outgoing.set(peer, (batch = []));
      batch.push(item);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  setInterest(topic: string, interested: boolean): Promise<void> | void {
    if (interested) this.localTopics.add(topic);
    else this.localTopics.delete(topic);
    if (this.mesh.size === 0) return;
    if (!interested) {
      this.mesh.postAll({ k: "interest", topics: [topic], on: false });
      return;
    }
    const id = this.nextAck++;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), INTEREST_ACK_TIMEOUT_MS);
      const finish = () => {
        clearTimeout(timer);
        this.pendingAcks.delete(id);
        resolve();
      };
      this.pendingAcks.set(id, { waiting: new Set(this.mesh.peers()), done: finish });
      this.mesh.postAll({ k: "interest", topics: [topic], on: true, ack: id });
    });
  }

  async close(): Promise<void> {
    this.flush();
    for (const pending of this.pendingAcks.values()) pending.done();
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const outgoing = this.outgoing;
    this.outgoing = new Map();
    for (const [peer, items] of outgoing) this.mesh.post(peer, { k: "broadcasts", items });
  };

  private receive(from: number, message: MeshMessage): void {
    switch (message.k) {
      case "broadcasts":
        for (const item of message.items) {
          const frame: EncodedFrame = { data: item.frame, binary: typeof item.frame !== "string" };
          this.fanout.deliverEncoded(item.topic, item.event, frame);
        }
        break;
      case "interest":
        for (const topic of message.topics) this.applyInterest(from, topic, message.on);
        if (message.ack !== undefined) this.mesh.post(from, { k: "ack", id: message.ack });
        break;
      case "ack": {
        const pending = this.pendingAcks.get(message.id);
        if (pending) this.acknowledge(from, pending);
        break;
      }
    }
  }

  private applyInterest(peer: number, topic: string, on: boolean): void {
    let peers = this.remoteInterest.get(topic);
    if (on) {
      if (!peers) this.remoteInterest.set(topic, (peers = new Set()));
      peers.add(peer);
    } else if (peers?.delete(peer) && peers.size === 0) {
      this.remoteInterest.delete(topic);
    }
  }

  private acknowledge(peer: number, pending: { waiting: Set<number>; done: () => void }): void {
    pending.waiting.delete(peer);
    if (pending.waiting.size === 0) pending.done();
  }
}
