import type { ReplicaId } from "../../crdt/index.js";
import type { ThreadEvent, ThreadAddress } from "./fabric.js";
import type { EncodedBroadcast } from "./encoded-broadcast.js";

/** The mesh index of a node's main thread, which links its workers to the other nodes. */
export const MAIN_THREAD = -1;

/** What the threads of one node say to each other over their MessagePorts, one kind per lane. */
export type MeshMessage =
  /** Interest lane: local interest in topics appeared or went away; `ack` asks the peer to confirm once routed. */
  | { k: "interest"; topics: string[]; on: boolean; ack?: number }
  | { k: "ack"; id: number }
  /** Broadcast lane, batched per event-loop turn. */
  | { k: "broadcasts"; items: EncodedBroadcast[] }
  /** Gossip lane: `to` null for every replica, else one replica (on this node or another). */
  | { k: "gossip"; to: ReplicaId | null; message: unknown }
  /** The main thread tells the workers what it learned about other replicas (liveness, crashes). */
  | { k: "peer"; event: ThreadEvent }
  /**
   * Request lane: a question on a feature's `lane`. Without `to` it is for the thread that
   * receives it; with one, the main thread passes it on (to every other node, or to one thread)
   * and waits at most `timeoutMs` for it.
   */
  | { k: "ask"; id: number; lane: string; question: unknown; to?: "nodes" | ThreadAddress; timeoutMs?: number }
  /** Its answer: null for none; to a question passed on to `nodes`, the list of their answers. */
  | { k: "answer"; id: number; answer: unknown }
  /** One-way, for the thread that receives it: no answer. */
  | { k: "tell"; lane: string; message: unknown };
