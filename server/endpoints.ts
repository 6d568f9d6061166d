import type { TemplatedApp } from "./uws-types.js";
import { createAuthenticator } from "./auth/auth-config.js";
import type { DisconnectLane } from "./auth/disconnect.js";
import type { ServerConfig } from "./config.js";
import type { Fabric } from "./fabric/fabric.js";
import type { LongPollTopics } from "./longpoll/longpoll-topics.js";
import type { LongPollRoutesMetrics } from "./longpoll/routes.js";
import type { LongPollSessions } from "./longpoll/sessions.js";
import { startLongPoll } from "./longpoll/transport.js";
import type { Logger } from "./ops/logger.js";
import type { Registry } from "./ops/metrics.js";
import type { SocketConnection, SocketServices } from "./socket/connection.js";
import { KeyedBuckets } from "./socket/rate-limit.js";
import type { ConnectHook } from "./endpoint/connect-hook.js";
import { mountHttp, type HttpEndpointOptions } from "./endpoint/http.js";
import type { HttpRequestsInFlight } from "./endpoint/http-in-flight.js";
import { OriginGate } from "./endpoint/origin-gate.js";
import { CONNECT_RATE_ADDRESSES, mountWebSocket, type WebSocketEndpointOptions } from "./endpoint/websocket.js";

export interface EndpointsParts extends Pick<HttpEndpointOptions, "broadcaster" | "historyTopics" | "reports"> {
  app: TemplatedApp;
  /** Counts the HTTP requests in flight, which a drain answers before it closes the app. */
  httpInFlight: HttpRequestsInFlight;
  config: ServerConfig;
  services: SocketServices;
  fabric: Fabric;
  /** Read at each handshake, so the hook can be set after the server is built. */
  connect: () => ConnectHook | undefined;
  connections: Set<SocketConnection>;
  /** This thread in the cluster (LongPoll session tokens name their owner). */
  self: { node: string; worker: number };
  /** A key the node's threads share (LongPoll session tokens, when no secretKeyBase is set). */
  nodeSecret: string | undefined;
  disconnects: DisconnectLane;
  longPollTopics: LongPollTopics;
  /** What the endpoints count, and the registry /metrics serves. */
  metrics: WebSocketEndpointOptions["metrics"] & LongPollRoutesMetrics & { registry: Registry };
  log: Logger;
}

/**
 * A thread's endpoints: the WebSocket, the LongPoll transport (with `longPoll` on) and the HTTP
 * routes, the first two sharing the admission of a socket (auth, the connect rate, origins, the
 * dashboard key). Returns the LongPoll sessions, which a drain or a crash closes.
 */
export function mountEndpoints(parts: EndpointsParts): LongPollSessions | undefined {
  const { app, config, services, connect, disconnects, metrics, log } = parts;
  const authenticator = config.auth ? createAuthenticator(config.auth, config.secretKeyBase) : undefined;
  const connectRates = new KeyedBuckets(config.maxConnectsPerSecondPerIp, CONNECT_RATE_ADDRESSES);
  const origins = new OriginGate(config, log);
  const dashboard = config.dashboard ? { key: config.dashboardKey } : undefined;
  mountWebSocket(app, { config, services, connect, connections: parts.connections, authenticator, ids: disconnects, connectRates, origins, dashboard, metrics });
  const longPoll = config.longPoll
    ? startLongPoll({
        app,
        httpApp: parts.httpInFlight.counting(app),
        config,
        services,
        fabric: parts.fabric,
        self: parts.self,
        nodeSecret: parts.nodeSecret,
        ids: disconnects,
        topics: parts.longPollTopics,
        connect,
        authenticator,
        connectRates,
        origins,
        dashboard,
        metrics,
        log,
      })
    : undefined;
  mountHttp(parts.httpInFlight.counting(app), {
    config,
    log,
    broadcaster: parts.broadcaster,
    historyTopics: parts.historyTopics,
    disconnects,
    reports: parts.reports,
    metricsContentType: metrics.registry.contentType,
  });
  return longPoll;
}
