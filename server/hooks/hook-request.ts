import { createHmac } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** Why a backend call failed: no answer in time, no backend (refused, reset, 5xx), or an answer Cinder cannot read (4xx, not a JSON object, too big). */
export type HookFailure = "timeout" | "unavailable" | "error";

export type HookResponse = { ok: true; body: Record<string, unknown> } | { ok: false; failure: HookFailure; detail: string };

/** The largest answer read from a backend; a bigger one is an error. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Keep-alive connections to the backends, one pool per protocol and thread: a hook call reuses an
 * idle connection instead of opening one per request. `maxSockets` is the thread's concurrency,
 * which the gate already bounds.
 */
export class HookAgents {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;

  constructor(maxSockets: number) {
    this.http = new HttpAgent({ keepAlive: true, maxSockets });
    this.https = new HttpsAgent({ keepAlive: true, maxSockets });
  }

  /** POSTs `body` as JSON to `url`, signed with `secret` if any; resolves, never rejects. */
  post(url: URL, body: string, secret: string | undefined, timeoutMs: number): Promise<HookResponse> {
    const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
    if (secret !== undefined) headers["x-cinder-signature"] = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
    const https = url.protocol === "https:";
    return new Promise((resolve) => {
      let settled = false;
      const settle = (response: HookResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(response);
      };
      const request = (https ? httpsRequest : httpRequest)(url, { method: "POST", headers, agent: https ? this.https : this.http }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            request.destroy();
            settle({ ok: false, failure: "error", detail: `answer over ${MAX_RESPONSE_BYTES} bytes` });
          } else chunks.push(chunk);
        });
        response.on("error", () => settle({ ok: false, failure: "unavailable", detail: "answer cut off" }));
        response.on("end", () => settle(readAnswer(response.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))));
      });
      const timer = setTimeout(() => {
        settle({ ok: false, failure: "timeout", detail: `no answer within ${timeoutMs} ms` });
        request.destroy();
      }, timeoutMs);
      request.on("error", (err) => settle({ ok: false, failure: "unavailable", detail: err.message }));
      request.end(body);
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

function readAnswer(status: number, text: string): HookResponse {
  if (status >= 500) return { ok: false, failure: "unavailable", detail: `HTTP ${status}` };
  if (status < 200 || status >= 300) return { ok: false, failure: "error", detail: `HTTP ${status}` };
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === "object" && body !== null && !Array.isArray(body)) return { ok: true, body: body as Record<string, unknown> };
  } catch {
    // Answered below.
  }
  return { ok: false, failure: "error", detail: "answer is not a JSON object" };
}
