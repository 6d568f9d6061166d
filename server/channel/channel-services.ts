import type { JoinsInProgress } from "./joins-in-progress.js";
import type { Frame } from "../../client/codec/frame.js";
import type { Logger } from "../ops/logger.js";
import type { ChannelMetrics } from "./channel-metrics.js";
import type { PresenceService } from "../presence/presence-service.js";
import type { PresenceStates, StateMemberSocket } from "../presence/presence-states.js";
import type { LocalFanout } from "../pubsub/local-fanout.js";
import type { SubscriberSocket } from "../pubsub/subscriber.js";
import type { Broadcaster } from "../pubsub/broadcaster.js";
import type { ChannelSocket } from "./channel-socket.js";
import type { HistoryTopics } from "./history-topics.js";
import type { HandlerNumbers } from "./handler-numbers.js";

/** What a channel uses of its server: pub/sub, presence, and where to log and count. */
export interface ChannelServices {
  readonly log: Logger;
  readonly metrics: ChannelMetrics;
  /** Pushes one channel may have waiting for its handler; past it a push is refused. */
  readonly maxQueuedPushes: number;
  /** The server's channel handlers, numbered: a channel keeps its handler's number. */
  readonly handlers: HandlerNumbers;
  /** Joins asked for and not answered yet, on this thread (the endpoint refuses new sockets past maxPendingJoins). */
  readonly joinsInProgress: JoinsInProgress;
  /** This thread's topics: a joined channel subscribes, and unsubscribes when it ends. */
  readonly fanout: Pick<LocalFanout, "subscribe" | "unsubscribe">;
  /** On a history topic a join goes here instead of `fanout.subscribe`, to recover what the client missed. */
  readonly historyTopics: Pick<HistoryTopics, "join">;
  /** Where a channel's broadcasts start (its own and its handler's), called directly. */
  readonly broadcaster: Pick<Broadcaster, "broadcast" | "broadcastStored">;
  readonly presence: Pick<PresenceService, "track" | "update" | "untrack" | "snapshot" | "count">;
  /** How members catch up on a topic's list (pushPresenceState). */
  readonly presenceStates: Pick<PresenceStates, "request" | "forget" | "drained">;
  /** Told of every client push a joined channel takes in (webhooks' client events); unset: nothing to tell. */
  readonly clientPushes?: ClientPushListener;
}

/** Hears a client's push on a joined channel, before its handler does. */
export type ClientPushListener = (topic: string, event: string, payload: unknown, userId: string | undefined) => void;

/** What a channel uses of its socket. */
export interface ChannelConnection extends SubscriberSocket, StateMemberSocket {
  readonly id: string;
  /** The token's `sub` (built-in auth). */
  readonly userId: string | undefined;
  readonly assigns: Readonly<Record<string, unknown>>;
  /** The server's side of its channels (one per thread). */
  readonly channelServices: ChannelServices;
  /** Encodes and sends a frame; false (logged and counted) when it cannot be encoded. */
  send(frame: Frame): boolean;
  /** Sends a V2 JSON frame as it is (re-encoded for a msgpack socket). */
  sendJsonFrame(frame: string): void;
  /** A channel of this socket joined (its ok reply is out). */
  channelJoined(channel: ChannelSocket): void;
  /** The channel of this topic ended. */
  forget(channel: { readonly topic: string }): void;
  /** One presence track or update is within the socket's rate limit (counted when it is not). */
  takePresence(): boolean;
}
