import type { EncodedFrame } from "../../client/codec/serializer.js";
import type { Channel } from "../channel/channel.js";
import type { Payload } from "../channel/results.js";

/** A broadcast on its way to every subscriber of a topic. */
export interface BroadcastMessage {
  topic: string;
  event: string;
  payload: Payload;
}

/**
 * The pub/sub fabric seam. A broker carries broadcasts to every subscriber wherever it lives
 * (this thread, other worker threads, other nodes) and hands them to each place's LocalFanout.
 * `broker-memory.ts`: one thread, one node. `broker-workers.ts`: the worker threads of a node.
 */
export interface Broker {
  /** Deliver to every subscriber of `message.topic`; `from` (a local channel) is skipped. */
  publish(message: BroadcastMessage, from: Channel | null): void;
  /**
   * This thread gained its first (true) or lost its last (false) subscriber of `topic`.
   * A returned promise settles once the fabric routes the topic here.
   */
  setInterest(topic: string, interested: boolean): Promise<void> | void;
  close(): Promise<void>;
}

export type { EncodedFrame };
