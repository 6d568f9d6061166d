import type { Frame } from "../../client/codec/frame.js";
import type { EncodedFrame, Serializer } from "../../client/codec/serializer.js";
import type { HistoryLimits } from "../history/history.js";
import type { Payload } from "./payload.js";
import type { PresenceMode } from "./presence-mode.js";

/** What the fan-out needs of a socket: its serializer and its uWS topic memberships. */
export interface SubscriberSocket {
  /** Unique per node start (a history broadcast_from names the socket it skips). */
  readonly id: string;
  readonly serializer: Serializer;
  /** Joins a uWS topic, in order with what this thread has queued to send. */
  subscribe(topicKey: string): void;
  unsubscribe(topicKey: string): void;
  /** Publishes to a uWS topic, skipping this socket itself (broadcast_from); false once it is closed. */
  publishFrom(topicKey: string, frame: EncodedFrame): boolean;
  /** Bytes written to the socket that it has not taken yet (uWS's backpressure, a LongPoll outbox). */
  readonly bufferedBytes: number;
  /** One frame for this socket alone, in order with the publish queue (a subscriber behind gets its frames this way). */
  send(frame: Frame): boolean;
  /** A V2 JSON frame for this socket alone, in order with the publish queue. */
  sendJsonFrame(frame: string): void;
  /** Closes it as a slow consumer (1013): the last resort. */
  closeSlow(): void;
}

/** What the fan-out reads of a subscription's channel handler (channel/handler.ts): which events it intercepts, and the history its topic keeps. */
export interface SubscriptionHandler {
  readonly intercept?: readonly string[];
  /** Whether the handler has one: the fan-out calls it through the subscriber's `deliverOut`. */
  readonly handleOut?: (...args: never[]) => void;
  readonly history?: HistoryLimits;
  /**
   * On a topic without history: the key of a message, so that a subscriber behind on its reads
   * keeps only the latest message per key (behind-subscribers.ts). Undefined: no conflation.
   */
  readonly conflate?: (event: string, payload: Payload) => string;
}

/** One subscription as the fan-out sees it: a topic, the handler's interception, and its socket. */
export interface Subscriber {
  readonly topic: string;
  readonly handler: SubscriptionHandler;
  readonly socket: SubscriberSocket;
  /** How it follows the topic's presence (default list). */
  readonly presenceMode?: PresenceMode;
  /** An intercepted broadcast, for this subscriber's `handleOut`. */
  deliverOut(event: string, payload: Payload): void;
  /**
   * Set by the fan-out alone: whether it currently delivers to this subscriber. Kept on the
   * subscriber so a topic whose broadcasts go out natively needs no set of its subscribers.
   */
  attached?: boolean;
}
