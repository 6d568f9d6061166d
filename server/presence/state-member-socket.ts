import type { SubscriberSocket } from "../pubsub/subscriber.js";

/** A frame for a member's socket; with a `head`, the head and `data` go as two fragments of one message. */
export interface StateFrame {
  readonly head?: string | Uint8Array;
  readonly data: Uint8Array;
  readonly binary: boolean;
}

/** What a member's socket offers beyond a subscriber's. */
export interface StateMemberSocket extends SubscriberSocket {
  /** Bytes written to the socket that it has not taken yet (uWS's backpressure, a LongPoll outbox). */
  readonly bufferedBytes: number;
  /** Whether more bytes written now go out without the server holding them (see SocketConnection). */
  readonly canTakeMore: boolean;
  /** Writes `frames` together, in order with everything else this socket is sent. */
  sendFrames(frames: readonly StateFrame[]): void;
}
