import type { MessagePort } from "node:worker_threads";
import type { GossipMessage } from "../presence/messages.js";

/** A broadcast crossing to another worker: the V2 JSON frame, encoded once by the publisher. */
export interface RemoteBroadcast {
  topic: string;
  event: string;
  /** `[null, null, topic, event, payload]` as text, or a V2 binary frame for byte payloads. */
  frame: string | Uint8Array;
}

export interface WorkerStats {
  index: number;
  sockets: number;
  channels: number;
  topics: number;
}

/** What workers say to each other over their MessagePorts. */
export type MeshMessage =
  /** Local interest in topics appeared/went away; `ack` asks the peer to confirm it applied it. */
  | { k: "interest"; topics: string[]; on: boolean; ack?: number }
  | { k: "ack"; id: number }
  | { k: "broadcasts"; items: RemoteBroadcast[] }
  | { k: "gossip"; shard: number; to: string | null; message: GossipMessage }
  | { k: "statsRequest"; id: number }
  | { k: "statsReply"; id: number; stats: WorkerStats; metrics: unknown };

/** Main thread → worker. */
export type ControlMessage =
  | { k: "peerUp"; index: number; port: MessagePort }
  | { k: "peerDown"; index: number; replica: string }
  | { k: "drain" };

/** Worker → main thread. */
export type WorkerReport =
  | { k: "listening"; port: number }
  | { k: "failed"; error: string }
  | { k: "crashed"; error: string };
