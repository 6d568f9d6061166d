import type { HttpRequest, HttpResponse, TemplatedApp } from "../uws-types.js";
import type { Authenticator } from "../auth/auth-config.js";
import type { ServerConfig } from "../config.js";
import { admit } from "../endpoint/admission.js";
import type { ConnectHook } from "../endpoint/connect-hook.js";
import { isSupportedVsn, parseQuery } from "../endpoint/handshake.js";
import type { OriginGate } from "../endpoint/origin-gate.js";
import { readBody } from "../endpoint/http-response.js";
import type { Logger } from "../ops/logger.js";
import type { EndpointMetrics } from "../endpoint/endpoint-metrics.js";
import type { SocketMetrics } from "../socket/socket-metrics.js";
import type { LongPollMetrics } from "./longpoll-metrics.js";
import type { KeyedBuckets } from "../socket/rate-limit.js";
import { pollBody, statusBody, statusOf } from "./answers.js";
import { postLines, MAX_POST_LINES } from "./ndjson.js";
import type { LongPollRelay } from "./relay.js";
import type { SessionRef, SessionTokens } from "./session-token.js";
import type { LongPollSessions } from "./sessions.js";

/** phoenix.js 1.9 sends the session token in this header; 1.8 in the `token` query parameter. */
const TOKEN_HEADER = "x-phoenix-longpoll-token";
/** The auth token phoenix.js's LongPoll sends (its WebSocket puts it in a subprotocol). */
const AUTH_TOKEN_HEADER = "x-phoenix-authtoken";

/** What the routes count: LongPoll's own metrics, and a refused or rate-limited handshake as the WebSocket endpoint counts it. */
export type LongPollRoutesMetrics = LongPollMetrics & Pick<EndpointMetrics, "connectsRejected"> & Pick<SocketMetrics, "rateLimited">;

export interface LongPollRoutesOptions {
  config: ServerConfig;
  sessions: LongPollSessions;
  tokens: SessionTokens;
  relay: LongPollRelay;
  connect: () => ConnectHook | undefined;
  authenticator: Authenticator | undefined;
  /** Shared with the WebSocket endpoint: a handshake counts as a connect (maxConnectsPerSecondPerIp). */
  connectRates: KeyedBuckets;
  /** Shared with the WebSocket endpoint: checkOrigin, which logs what it refuses. */
  origins: OriginGate;
  /** As the WebSocket endpoint's: the dashboard key admits the dashboard page's socket. */
  dashboard: { key: string | undefined } | undefined;
  metrics: LongPollRoutesMetrics;
  log: Logger;
}

/** What a handler reads of its request before answering later (uWS's request is gone by then). */
interface RequestHead {
  query: Record<string, string>;
  headers: Record<string, string>;
}

/** A POST body's bound: a full batch of small frames, or one frame of maxPayloadLength in base64. */
export function maxPostBytes(config: Pick<ServerConfig, "maxPayloadLength">): number {
  return config.maxPayloadLength * 4;
}

/**
 * Mounts `${socketPath}/longpoll`, Phoenix's LongPoll transport as phoenix.js 1.8 and 1.9 speak
 * it (docs/longpoll.md): every answer is HTTP 200 with the status in its JSON body.
 */
export function mountLongPoll(app: TemplatedApp, options: LongPollRoutesOptions): void {
  const { config, metrics, log } = options;
  const path = `${config.socketPath}/longpoll`;

  app.options(path, (res, req) => {
    const head = readHead(req);
    if (!originAllowed(head, options.origins)) return write(res, statusBody(403));
    res.cork(() =>
      res
        .writeStatus("200 OK")
        .writeHeader("access-control-allow-origin", "*")
        .writeHeader("access-control-allow-headers", head.headers["access-control-request-headers"] ?? "")
        .writeHeader("access-control-allow-methods", "get, post, options")
        .writeHeader("access-control-max-age", "3600")
        .writeHeader("cache-control", "no-store")
        .end(),
    );
  });

  app.get(path, (res, req) => {
    const head = readHead(req);
    const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
    const answered = later(res, "GET", metrics);
    if (!originAllowed(head, options.origins)) return refuse(answered, "origin", metrics, log);
    const fromHeader = head.headers[TOKEN_HEADER];
    const token = fromHeader ?? head.query.token;
    if (token !== undefined) {
      const check = options.tokens.verify(token);
      if (check.ok) return poll(check.ref, token, answered, options);
      // A `token` query parameter that is not a session token may be the app's own connect
      // param (phoenix.js 1.8 puts both in the query): it starts a session, as in Phoenix.
      if (fromHeader !== undefined || check.reason === "expired") return answered.send(statusBody(410));
    }
    handshake(head, remoteAddress, answered, options);
  });

  app.post(path, (res, req) => {
    const head = readHead(req);
    const answered = later(res, "POST", metrics);
    const limit = maxPostBytes(config);
    // The body must be read (or the request aborted) whatever the answer.
    readBody(res, limit, (body) => {
      if (!originAllowed(head, options.origins)) return refuse(answered, "origin", metrics, log);
      const token = head.headers[TOKEN_HEADER] ?? head.query.token;
      const check = token === undefined ? null : options.tokens.verify(token);
      if (!check?.ok || token === undefined) return answered.send(statusBody(410));
      if (body === null) return answered.send(statusBody(413));
      const parsed = postLines(body.toString("utf8"), head.headers["content-type"] ?? "");
      if (!parsed.ok) {
        log.debug({ lines: `over ${MAX_POST_LINES}` }, "longpoll post refused");
        return answered.send(statusBody(parsed.status));
      }
      const { ref } = check;
      if (options.sessions.owns(ref)) return answered.send(options.sessions.post(ref, parsed.lines));
      void options.relay.relay(ref, { kind: "longpoll", method: "POST", token, lines: parsed.lines }).then(answered.send);
    });
  });

  // Phoenix answers other methods 400.
  app.any(path, (res) => write(res, statusBody(400)));
}

interface Later {
  /** Writes the answer unless the client went away. */
  send(body: string): void;
  /** Called once the client goes away. */
  onAborted(cancel: () => void): void;
}

/** An answer that may come after the handler returned: it is corked, and dropped if the client went away. */
function later(res: HttpResponse, method: "GET" | "POST", metrics: LongPollRoutesMetrics): Later {
  let done = false;
  let cancel: () => void = () => {};
  res.onAborted(() => {
    done = true;
    cancel();
  });
  return {
    send: (body) => {
      if (done) return;
      done = true;
      metrics.longPollRequests.inc({ method, status: statusOf(body) });
      res.cork(() => write(res, body));
    },
    onAborted: (given) => {
      cancel = given;
    },
  };
}

function poll(ref: SessionRef, token: string, answered: Later, options: LongPollRoutesOptions): void {
  if (options.sessions.owns(ref)) {
    answered.onAborted(options.sessions.poll(ref, answered.send));
    return;
  }
  void options.relay.relay(ref, { kind: "longpoll", method: "GET", token }).then(answered.send);
}

/** A GET without a session: the checks a WebSocket upgrade makes, then a new session whose token is the answer. */
function handshake(head: RequestHead, remoteAddress: string, answered: Later, options: LongPollRoutesOptions): void {
  const { metrics, log, sessions } = options;
  if (!options.connectRates.take(remoteAddress)) {
    metrics.rateLimited.inc({ limit: "connects" });
    return refuse(answered, "rate", metrics, log);
  }
  if (!isSupportedVsn(head.query.vsn)) return refuse(answered, "vsn", metrics, log);
  // The connect params are the query's, vsn included, as for a WebSocket (a `token` there is the app's own).
  admit(
    { authenticator: options.authenticator, connect: options.connect(), log, transport: "longpoll", dashboard: options.dashboard },
    head.query,
    { headers: head.headers, remoteAddress, authToken: head.headers[AUTH_TOKEN_HEADER], serializer: "json" },
    (outcome) => {
      // phoenix.js's LongPoll knows 403 (give up) and 500 (retry), not 503: "try again" is a 500 here.
      if (!outcome.ok) return refuse(answered, outcome.reason, metrics, log, outcome.status >= 500 ? 500 : 403);
      const session = sessions.create(outcome.assigns, outcome.session);
      answered.send(pollBody(410, session.token, []));
    },
  );
}

function refuse(answered: Later, reason: string, metrics: LongPollRoutesMetrics, log: Logger, status = 403): void {
  metrics.connectsRejected.inc({ reason });
  log.debug({ reason }, "longpoll refused");
  answered.send(statusBody(status));
}

function readHead(req: HttpRequest): RequestHead {
  const headers: Record<string, string> = Object.create(null);
  req.forEach((key, value) => {
    headers[key] = value;
  });
  return { query: parseQuery(req.getQuery() ?? ""), headers };
}

function originAllowed(head: RequestHead, origins: OriginGate): boolean {
  return origins.admits(head.headers.origin ?? "", head.headers.host ?? "", "longpoll");
}

/** Every LongPoll answer: 200, JSON, never cached, readable from any origin the origin check let through. */
function write(res: HttpResponse, body: string): void {
  res
    .writeStatus("200 OK")
    .writeHeader("content-type", "application/json; charset=utf-8")
    .writeHeader("cache-control", "no-store")
    .writeHeader("access-control-allow-origin", "*")
    .end(body);
}
