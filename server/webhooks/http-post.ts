import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/**
 * POSTs to one backend over a kept-alive connection (node:http's agent: on loopback a batch's
 * round trip is about a quarter of global fetch's, which matters with one batch in flight).
 */
export class BackendPoster {
  private readonly target: URL;
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;

  constructor(url: string) {
    this.target = new URL(url);
    const https = this.target.protocol === "https:";
    // One batch is in flight at a time: one connection, kept between batches.
    this.agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
    this.request = https ? httpsRequest : httpRequest;
  }

  /** The answer's status; rejects on a network error, on `timeoutMs` without an answer, or when `signal` aborts. */
  post(headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = this.request(this.target, { method: "POST", agent: this.agent, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) }, signal }, (res) => {
        // The body is read to free the connection for the next batch.
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
