import type { Frame } from "../../client/codec/frame.js";
import type { Logger } from "../ops/logger.js";
import type { Metrics } from "../ops/metrics.js";
import type { PresenceService } from "../presence/presence-service.js";
import type { Subscriber, SubscriberSocket } from "../pubsub/subscriber.js";
import type { Payload } from "./results.js";

/** What a channel uses of its server: pub/sub, presence, and where to log and count. */
export interface ChannelServices {
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Pushes one channel may have waiting for its handler; past it a push is refused. */
  readonly maxQueuedPushes: number;
  subscribe(subscriber: Subscriber): Promise<void> | void;
  unsubscribe(subscriber: Subscriber): void;
  broadcast(topic: string, event: string, payload: Payload, from: Subscriber | null): void;
  readonly presence: Pick<PresenceService, "track" | "update" | "untrack" | "list">;
}

/** What a channel uses of its socket. */
export interface ChannelConnection extends SubscriberSocket {
  readonly id: string;
  readonly assigns: Readonly<Record<string, unknown>>;
  /** Encodes and sends a frame; false (logged and counted) when it cannot be encoded. */
  send(frame: Frame): boolean;
  /** The channel of this topic ended. */
  forget(channel: { readonly topic: string }): void;
}
