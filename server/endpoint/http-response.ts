import type { HttpResponse } from "../uws-types.js";

const STATUS_TEXT: Record<number, string> = {
  200: "200 OK",
  202: "202 Accepted",
  400: "400 Bad Request",
  401: "401 Unauthorized",
  403: "403 Forbidden",
  404: "404 Not Found",
  405: "405 Method Not Allowed",
  413: "413 Payload Too Large",
  415: "415 Unsupported Media Type",
  500: "500 Internal Server Error",
  503: "503 Service Unavailable",
};

export function writeJson(res: HttpResponse, status: number, body: unknown): void {
  res
    .writeStatus(STATUS_TEXT[status] ?? `${status} Status`)
    .writeHeader("content-type", "application/json")
    .end(JSON.stringify(body));
}

export function writeText(res: HttpResponse, status: number, contentType: string, body: string): void {
  res
    .writeStatus(STATUS_TEXT[status] ?? `${status} Status`)
    .writeHeader("content-type", contentType)
    .end(body);
}

/**
 * Collects a JSON request body up to `limit` bytes and hands it over parsed; answers 413 and
 * 400 itself, and nothing at all when the client went away.
 */
export function readJsonBody(res: HttpResponse, limit: number, done: (message: unknown) => void): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  readBody(res, limit, (body) => {
    if (aborted) return;
    if (body === null) return writeJson(res, 413, { error: `body larger than ${limit} bytes` });
    let message: unknown;
    try {
      message = JSON.parse(body.toString("utf8"));
    } catch {
      return writeJson(res, 400, { error: "body is not valid JSON" });
    }
    done(message);
  });
}

/** Collects a request body up to `limit` bytes; `done(null)` when the client sent more. */
export function readBody(res: HttpResponse, limit: number, done: (body: Buffer | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let overflow = false;
  res.onData((chunk, isLast) => {
    if (!overflow) {
      size += chunk.byteLength;
      if (size > limit) overflow = true;
      // uWS reuses the chunk's memory after this callback: copy it.
      else chunks.push(Buffer.from(chunk.slice(0)));
    }
    if (isLast) done(overflow ? null : Buffer.concat(chunks));
  });
}
