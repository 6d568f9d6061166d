import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { HttpResponse, TemplatedApp } from "../uws-types.js";
import { isObjectPayload } from "../../client/codec/frame.js";
import type { ServerConfig } from "../config.js";
import type { HistoryTopics } from "../channel/history-topics.js";
import { StoreError } from "../history/store-error.js";
import type { Logger } from "../ops/logger.js";
import { MAX_SOCKET_ID_LENGTH, type DisconnectLane } from "../auth/disconnect.js";
import type { Broadcaster } from "../pubsub/broadcaster.js";
import type { ThreadReports } from "../stats/thread-reports.js";
import { readJsonBody, writeJson, writeText } from "./http-response.js";
import { sameSecret } from "../auth/secret.js";

export interface HttpEndpointOptions {
  config: ServerConfig;
  log: Logger;
  /** Where `POST /api/broadcast` starts a broadcast, as a channel's does. */
  broadcaster: Pick<Broadcaster, "broadcast" | "broadcastStored">;
  /** On a topic that keeps history `POST /api/broadcast` answers once the message is kept (or could not be); `GET /api/history` reads it. */
  historyTopics: Pick<HistoryTopics, "keeps" | "read">;
  /** Closes every socket with an id in the cluster. */
  disconnects: Pick<DisconnectLane, "disconnect">;
  /** The node's /health and /metrics. */
  reports: Pick<ThreadReports, "healthReport" | "metricsText">;
  metricsContentType: string;
}

const MAX_BROADCAST_BODY = 1024 * 1024;
const MAX_DISCONNECT_BODY = 4096;

/** `/health`, `/metrics`, `POST /api/broadcast`, the demo page, the dashboard page, and JSON 404s for the rest. */
export function mountHttp(app: TemplatedApp, options: HttpEndpointOptions): void {
  const { config, reports } = options;

  app.get("/health", (res) => answerLater(res, () => reports.healthReport(), (body) => writeJson(res, 200, body)));

  app.get("/metrics", (res) =>
    answerLater(res, () => reports.metricsText(), (text) => writeText(res, 200, options.metricsContentType, text)),
  );

  app.post("/api/broadcast", (res, req) => broadcastEndpoint(res, req.getHeader("authorization"), options));

  app.post("/api/disconnect", (res, req) => disconnectEndpoint(res, req.getHeader("authorization"), options));

  app.get("/api/history", (res, req) => historyEndpoint(res, req.getHeader("authorization"), new URLSearchParams(req.getQuery() ?? ""), options));

  if (config.demo) {
    // Under built-in auth the page asks for a token rather than retrying without one.
    const page = readFileSync(new URL("../demo/index.html", import.meta.url), "utf8").replace(
      '<meta name="cinder-auth" content="off">',
      `<meta name="cinder-auth" content="${config.auth ? "on" : "off"}">`,
    );
    app.get("/", (res) => writeText(res, 200, "text/html; charset=utf-8", page));
    serveBundle(app, "/assets/cinder.min.js", CLIENT_BUNDLES, options.log, "the demo page");
  }

  // The page holds no data: that comes over the reserved dashboard channel, which asks for the key.
  if (config.dashboard) {
    const page = readFileSync(new URL("../dashboard/page/index.html", import.meta.url), "utf8");
    app.get("/dashboard", (res) => writeText(res, 200, "text/html; charset=utf-8", page));
    serveBundle(app, "/assets/dashboard.min.js", DASHBOARD_BUNDLES, options.log, "the dashboard");
  }

  app.any("/*", (res) => writeJson(res, 404, { error: "not found" }));
}

/**
 * Bundles made by `npm run build`: found from this file's build in dist/server/endpoint/, or
 * from its source in server/endpoint/ (tests run sources).
 */
const CLIENT_BUNDLES = [new URL("../../client/cinder.min.js", import.meta.url), new URL("../../dist/client/cinder.min.js", import.meta.url)];
const DASHBOARD_BUNDLES = [new URL("../dashboard/page.min.js", import.meta.url), new URL("../../dist/server/dashboard/page.min.js", import.meta.url)];

/** Serves a bundle at `path`, read once it exists (500 until then). */
function serveBundle(app: TemplatedApp, path: string, places: URL[], log: Logger, neededBy: string): void {
  const missing = `bundle ${fileURLToPath(places[0])} is missing: run npm run build`;
  let script: string | null = null;
  const read = () => {
    for (const file of places) {
      try {
        return (script = readFileSync(file, "utf8"));
      } catch {
        // try the next place
      }
    }
    return null;
  };
  if (read() === null) log.warn(`${missing}; ${neededBy} needs it`);
  app.get(path, (res) => {
    const found = script ?? read();
    if (found === null) return writeText(res, 500, "text/plain; charset=utf-8", missing);
    writeText(res, 200, "text/javascript; charset=utf-8", found);
  });
}

/** Runs `produce`, then answers through `write` unless the client went away meanwhile. */
function answerLater<T>(res: HttpResponse, produce: () => Promise<T>, write: (value: T) => void): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  produce().then(
    (value) => {
      if (!aborted) res.cork(() => write(value));
    },
    () => {
      if (!aborted) res.cork(() => writeJson(res, 500, { error: "internal error" }));
    },
  );
}

/**
 * Lets a backend broadcast without a socket:
 * `POST /api/broadcast` with `Authorization: Bearer <broadcastKey>` and `{topic, event, payload}`.
 * 202 once handed on; on a history topic 200 with its offset once kept, or 503 when it could not be.
 */
function broadcastEndpoint(res: HttpResponse, authorization: string, options: HttpEndpointOptions): void {
  const refusal = checkBearer(authorization, options.config.broadcastKey);
  if (refusal) return writeJson(res, refusal.status, { error: refusal.error });
  readJsonBody(res, MAX_BROADCAST_BODY, (message) => {
    const problem = validateBroadcast(message, options.config);
    if (problem) return writeJson(res, 400, { error: problem });
    const { topic, event, payload } = message as { topic: string; event: string; payload: Record<string, unknown> };
    if (options.historyTopics.keeps(topic)) {
      return answerLater(res, () => storedBroadcast(options, topic, event, payload), ({ status, body }) => writeJson(res, status, body));
    }
    try {
      options.broadcaster.broadcast(topic, event, payload, null);
    } catch (err) {
      // The broadcaster checks the payload's depth (maxPayloadDepth) once, for every way in.
      if (err instanceof TypeError) return writeJson(res, 400, { error: err.message });
      throw err;
    }
    writeJson(res, 202, { ok: true });
  });
}

/** A stored broadcast's answer: 200 with its place once kept, 503 with the StoreError's reason, 400 for what can never be kept. */
async function storedBroadcast(options: HttpEndpointOptions, topic: string, event: string, payload: Record<string, unknown>): Promise<{ status: number; body: object }> {
  try {
    const { offset, epoch } = await options.broadcaster.broadcastStored(topic, event, payload, null);
    return { status: 200, body: { ok: true, offset, epoch } };
  } catch (err) {
    if (err instanceof StoreError) return { status: 503, body: { error: err.message, reason: err.reason } };
    if (err instanceof TypeError) return { status: 400, body: { error: err.message } };
    throw err;
  }
}

/**
 * Lets a backend close every socket of a user (Phoenix's `users_socket:<id>` "disconnect"):
 * `POST /api/disconnect` with `Authorization: Bearer <broadcastKey>` and `{"id": "…"}`.
 */
function disconnectEndpoint(res: HttpResponse, authorization: string, options: HttpEndpointOptions): void {
  const refusal = checkBearer(authorization, options.config.broadcastKey);
  if (refusal) return writeJson(res, refusal.status, { error: refusal.error });
  readJsonBody(res, MAX_DISCONNECT_BODY, (message) => {
    const id = isObjectPayload(message) ? message.id : undefined;
    if (typeof id !== "string" || id.length === 0 || id.length > MAX_SOCKET_ID_LENGTH) {
      return writeJson(res, 400, { error: `id must be a string of 1 to ${MAX_SOCKET_ID_LENGTH} characters` });
    }
    options.disconnects.disconnect(id);
    writeJson(res, 202, { ok: true });
  });
}

/**
 * Lets a backend load a page of a topic's recent messages:
 * `GET /api/history?topic=room:lobby&since=0&limit=100` with `Authorization: Bearer <broadcastKey>`.
 */
function historyEndpoint(res: HttpResponse, authorization: string, query: URLSearchParams, options: HttpEndpointOptions): void {
  const refusal = checkBearer(authorization, options.config.broadcastKey);
  if (refusal) return writeJson(res, refusal.status, { error: refusal.error });
  const topic = query.get("topic");
  if (!topic) return writeJson(res, 400, { error: "topic is required: /api/history?topic=room:lobby&since=0&limit=100" });
  const number = (name: string) => (query.has(name) ? Number(query.get(name)) : undefined);
  const since = number("since");
  const limit = number("limit");
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  options.historyTopics.read(topic, { since, limit }).then(
    (page) => !aborted && res.cork(() => writeJson(res, 200, page)),
    (err: unknown) => !aborted && res.cork(() => writeJson(res, err instanceof TypeError ? 400 : 500, { error: err instanceof TypeError ? err.message : "history unavailable" })),
  );
}

/** The backend endpoints take `Authorization: Bearer <broadcastKey>`, compared in constant time. */
function checkBearer(authorization: string, key: string | undefined): { status: number; error: string } | null {
  if (!key) return { status: 403, error: "endpoint disabled: set BROADCAST_KEY or SECRET_KEY_BASE" };
  // The scheme is case-insensitive (RFC 9110); the key is compared in constant time.
  const given = /^bearer +(.+)$/i.exec(authorization.trim())?.[1] ?? "";
  if (!sameSecret(given, key)) return { status: 401, error: "missing or wrong bearer key" };
  return null;
}

function validateBroadcast(message: unknown, limits: Pick<ServerConfig, "maxTopicLength" | "maxEventLength">): string | null {
  if (!isObjectPayload(message)) return "body must be a JSON object {topic, event, payload}";
  const { topic, event, payload } = message;
  if (typeof topic !== "string" || topic.length === 0) return "topic must be a non-empty string";
  if (topic.length > limits.maxTopicLength) return `topic longer than ${limits.maxTopicLength} characters`;
  if (typeof event !== "string" || event.length === 0) return "event must be a non-empty string";
  if (event.length > limits.maxEventLength) return `event longer than ${limits.maxEventLength} characters`;
  if (event.startsWith("phx_")) return "events starting with phx_ are reserved";
  if (!isObjectPayload(payload)) return "payload must be a JSON object";
  return null;
}
