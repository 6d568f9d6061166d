import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t } from "../uws-types.js";
import { jsonSerializer, type Serializer } from "../../client/codec/serializer.js";
import { msgpackSerializer } from "../../client/codec/msgpack.js";
import type { ServerConfig } from "../config.js";
import { CLOSE } from "../socket/close-codes.js";
import { SocketConnection, type SocketServices, type SocketUserData } from "../socket/connection.js";
import { socketSerial } from "../socket/socket-id.js";
import type { Authenticator } from "../auth/auth-config.js";
import type { DisconnectLane } from "../auth/disconnect.js";
import { admit, type Admitted, type Refused } from "./admission.js";
import type { ConnectHook } from "./connect-hook.js";
import { isSupportedVsn, parseQuery, readSubprotocols } from "./handshake.js";
import type { OriginGate } from "./origin-gate.js";
import { writeJson } from "./http-response.js";
import { uwsCapabilities } from "../native-uws.js";
import { DASHBOARD_SOCKET_PARAM } from "../dashboard/dashboard-channel.js";
import type { KeyedBuckets } from "../socket/rate-limit.js";
import type { SocketMetrics } from "../socket/socket-metrics.js";
import type { EndpointMetrics } from "./endpoint-metrics.js";

/** The headers of a request nothing reads them from (see `full` in the upgrade). */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);

/** Every header of a request, by lower-case name (the last of a repeated one). */
function allHeaders(req: HttpRequest): Record<string, string> {
  const headers: Record<string, string> = Object.create(null);
  req.forEach((key, value) => {
    headers[key] = value;
  });
  return headers;
}

/** A Map, not an object: `?serializer=__proto__` or `toString` must find nothing. */
const SERIALIZERS = new Map<string, Serializer>([
  ["json", jsonSerializer],
  ["msgpack", msgpackSerializer],
]);

/** The close reason uWS gives when it cut a connection over a text frame of invalid UTF-8. */
const UWS_INVALID_UTF8 = "Received invalid UTF-8";

/** Client addresses whose connect rate a thread remembers (maxConnectsPerSecondPerIp); the least recent go first. */
export const CONNECT_RATE_ADDRESSES = 10_000;

export interface WebSocketEndpointOptions {
  config: ServerConfig;
  /** What each socket gets of the server. */
  services: SocketServices;
  /** Read at each upgrade, so the hook can be set after the server is built. */
  connect: () => ConnectHook | undefined;
  /** Every open connection of this thread (health, shutdown). */
  connections: Set<SocketConnection>;
  /** Built-in auth (`auth` option): every socket needs a valid token, checked before the connect hook. */
  authenticator: Authenticator | undefined;
  /** Where sockets with an id are indexed for force-disconnects. */
  ids: Pick<DisconnectLane, "add" | "remove">;
  /** New sockets per client address (maxConnectsPerSecondPerIp), shared with the LongPoll handshake. */
  connectRates: KeyedBuckets;
  /** checkOrigin, which logs what it refuses; shared with LongPoll. */
  origins: OriginGate;
  /** When the dashboard is served: its key, which admits the dashboard page's socket (see admit). */
  dashboard: { key: string | undefined } | undefined;
  /** Its own, and the frames and connects refused, counted with the sockets'. */
  metrics: EndpointMetrics & Pick<SocketMetrics, "frameErrors" | "rateLimited">;
}

/** Mounts `${socketPath}/websocket` on the app: handshake checks, the connect hook, and the socket lifecycle. */
export function mountWebSocket(app: TemplatedApp, options: WebSocketEndpointOptions): void {
  const { config, services, connections, authenticator, ids, connectRates, origins, metrics } = options;
  const { log } = services;
  let nextId = 0;
  const Connection = SocketConnection.of(services);
  const { maxPendingJoins } = config;
  const upgradesMayWait = uwsCapabilities().upgradesLaterSafely;
  const saturated = () => maxPendingJoins > 0 && services.channels.joinsInProgress.count + services.joinBacklog.size >= maxPendingJoins;

  const refuse = (res: HttpResponse, status: number, reason: string, error: string) => {
    metrics.connectsRejected.inc({ reason });
    log.debug({ reason }, "websocket refused");
    writeJson(res, status, { error });
  };

  app.ws<SocketUserData>(`${config.socketPath}/websocket`, {
    // uWS drops oversized frames without a close code; letting frames up to twice the limit
    // through lets us close with 1009 and a reason, while the hard cap still bounds memory.
    maxPayloadLength: config.maxPayloadLength * 2,
    // uWS counts in seconds: never shorter than asked.
    idleTimeout: Math.ceil(config.idleTimeoutMs / 1000),
    // Phoenix servers never ping; clients heartbeat. Pings would also hide dead clients from the idle timer.
    sendPingsAutomatically: false,
    // See socket/slow-consumers.ts: uWS drops past twice the limit, our sweep closes past the limit.
    maxBackpressure: config.maxBufferedBytes * 2,
    closeOnBackpressureLimit: 0,

    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      // Saturated with joins (a node's clients all coming back at once): a refusal now costs the
      // thread nothing and phoenix.js retries it with its backoff, where a socket let in would
      // wait behind every join before its own is answered, and time out.
      if (saturated()) return refuse(res, 503, "saturated", "too many joins in progress: retry shortly");
      const params = parseQuery(req.getQuery() ?? "");
      const connect = options.connect();
      // All the request's headers and the client's address are for whoever reads them: the connect
      // hook, and the logs of auth's and the dashboard key's refusals. Copying every header out of
      // uWS and asking the kernel for the address cost more than the rest of the checks together.
      const full = connect !== undefined || authenticator !== undefined || (options.dashboard !== undefined && params[DASHBOARD_SOCKET_PARAM] !== undefined);
      const remoteAddress = full || connectRates.limited ? Buffer.from(res.getRemoteAddressAsText()).toString() : "";
      if (connectRates.limited && !connectRates.take(remoteAddress)) {
        metrics.rateLimited.inc({ limit: "connects" });
        return refuse(res, 429, "rate", "too many connections from this address: retry in a second");
      }
      const headers = full ? allHeaders(req) : NO_HEADERS;
      const header = (name: string): string => (full ? (headers[name] ?? "") : req.getHeader(name));
      if (!isSupportedVsn(params.vsn)) return refuse(res, 403, "vsn", "unsupported protocol version: use vsn=2.0.0");
      const serializer = SERIALIZERS.get(params.serializer ?? "json");
      if (!serializer) return refuse(res, 403, "serializer", 'unknown serializer: use "json" or "msgpack"');
      // Without an Origin (no browser) every origin check passes, and the host is not read.
      const origin = header("origin");
      if (origin !== "" && !origins.admits(origin, header("host"), "websocket")) return refuse(res, 403, "origin", "origin not allowed");
      const { authToken, accept } = readSubprotocols(header("sec-websocket-protocol"));
      const secKey = header("sec-websocket-key");
      const extensions = header("sec-websocket-extensions");
      const id = socketSerial("websocket", nextId++);
      let aborted = false;
      let waited = false;
      const decide = (outcome: Admitted | Refused) => {
        if (aborted) return;
        const answer = () => {
          if (!outcome.ok) return refuse(res, outcome.status, outcome.reason, outcome.error);
          const connection = new Connection(id, serializer, outcome.assigns, outcome.session);
          res.upgrade<SocketUserData>({ connection }, secKey, accept, extensions, context);
        };
        // Answered later than the upgrade callback (an async auth or connect hook): uWS needs the
        // writes corked. Both uWS builds may then close the new socket right after its 101 (see
        // UwsBuild.upgradesLaterSafely): there is no other way to answer later.
        if (waited) res.cork(answer);
        else answer();
      };
      const admitNow = () => admit({ authenticator, connect, log, transport: "websocket", dashboard: options.dashboard }, params, { headers, remoteAddress, authToken, serializer: serializer.name }, decide);
      // A busy thread lets the upgrade wait its turn with the joins (join-backlog.ts), where the
      // uWS build can answer it later without closing it (see UwsBuild.upgradesLaterSafely).
      const deferred =
        upgradesMayWait &&
        services.joinBacklog.deferUpgrade(() => {
          if (!aborted) admitNow();
        });
      // No auth, no hook and no wait: nothing to wait for.
      if (deferred || authenticator || connect) res.onAborted(() => (aborted = true));
      if (!deferred) admitNow();
      waited = true;
    },

    open(ws) {
      const connection = ws.getUserData().connection;
      connection.opened(ws);
      connections.add(connection);
      if (connection.disconnectId !== undefined) ids.add(connection.disconnectId, connection);
      metrics.sockets.inc();
      // Guarded: the id's text and the fields would be made for every socket, debug or not.
      if (log.isLevelEnabled("debug")) log.debug({ socket: connection.id }, "socket connected");
    },

    // Unread bytes are being written out: the node-wide cap sees them go down, and presence
    // catch-ups waiting on this socket go on.
    drain(ws) {
      ws.getUserData().connection.drained();
    },

    // uWS pongs by itself: the slow-consumer sweep is told, as of any other write.
    ping(ws) {
      ws.getUserData().connection.pinged();
    },

    message(ws, message, isBinary) {
      const connection = ws.getUserData().connection;
      if (message.byteLength > config.maxPayloadLength) {
        metrics.frameErrors.inc();
        connection.end(CLOSE.tooBig, `frame of ${message.byteLength} bytes is over the ${config.maxPayloadLength}-byte limit`);
        return;
      }
      connection.receive(message, isBinary);
    },

    close(ws, code, message) {
      const connection = ws.getUserData().connection;
      // uWS checks text frames itself and cuts the connection (1006, no close frame) on invalid
      // UTF-8, before any handler sees the frame: it is counted as a frame error here.
      if (code === 1006 && Buffer.from(message).toString() === UWS_INVALID_UTF8) metrics.frameErrors.inc();
      connections.delete(connection);
      if (connection.disconnectId !== undefined) ids.remove(connection.disconnectId, connection);
      metrics.sockets.dec();
      connection.onClose();
      if (log.isLevelEnabled("debug")) log.debug({ socket: connection.id, code, reason: Buffer.from(message).toString() }, "socket closed");
    },
  });
}
