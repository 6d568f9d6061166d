import { randomBytes } from "node:crypto";
import type { TemplatedApp } from "../uws-types.js";
import type { DisconnectLane } from "../auth/disconnect.js";
import type { Fabric } from "../fabric/fabric.js";
import type { SocketServices } from "../socket/connection.js";
import type { LongPollTopics } from "./longpoll-topics.js";
import { LongPollRelay } from "./relay.js";
import { serveRelays } from "./relay-lane.js";
import { mountLongPoll, type LongPollRoutesOptions } from "./routes.js";
import { SessionTokens } from "./session-token.js";
import { LongPollSessions } from "./sessions.js";

export interface LongPollTransportParts extends Omit<LongPollRoutesOptions, "sessions" | "tokens" | "relay"> {
  /** The app the sessions publish on. */
  app: TemplatedApp;
  /** The app the HTTP routes are mounted on (counting its requests in flight, for a drain). */
  httpApp: TemplatedApp;
  services: SocketServices;
  fabric: Fabric;
  /** This thread in the cluster: a session's token names the thread that owns it. */
  self: { node: string; worker: number };
  /** A key the node's threads share, used when no secretKeyBase is set. */
  nodeSecret: string | undefined;
  ids: Pick<DisconnectLane, "add" | "remove">;
  topics: LongPollTopics;
}

/**
 * The LongPoll transport on this thread: its sessions, their tokens, the relay to a session's
 * owner on another thread or node (and the lane this thread answers relays on), and the HTTP
 * routes. Returns the sessions, which a drain or a crash closes.
 */
export function startLongPoll(parts: LongPollTransportParts): LongPollSessions {
  const { config, fabric, metrics, log } = parts;
  // Every node of a cluster verifies the others' tokens with secretKeyBase; without it the node's threads share a random key.
  const tokens = new SessionTokens(config.secretKeyBase ?? parts.nodeSecret ?? randomBytes(32).toString("base64"));
  const sessions = new LongPollSessions({
    app: parts.app,
    services: parts.services,
    tokens,
    self: parts.self,
    windowMs: config.longPollWindowMs,
    maxBufferedBytes: config.longPollMaxBufferedBytes,
    maxFrameBytes: config.maxPayloadLength,
    ids: parts.ids,
    topics: parts.topics,
    metrics,
    log,
  });
  serveRelays(fabric, (request) => sessions.answerRelayed(request));
  mountLongPoll(parts.httpApp, {
    config,
    sessions,
    tokens,
    relay: new LongPollRelay({ fabric, metrics, windowMs: config.longPollWindowMs, maxInFlight: config.longPollMaxRelays }),
    connect: parts.connect,
    authenticator: parts.authenticator,
    connectRates: parts.connectRates,
    origins: parts.origins,
    dashboard: parts.dashboard,
    metrics,
    log,
  });
  return sessions;
}
