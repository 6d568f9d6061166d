import WebSocket from "ws";
import { waitFor } from "./wait.js";

export type RawFrame = [string | null, string | null, string, string, unknown];

/**
 * A bare WebSocket speaking V2 JSON by hand, to test exact frames and bad input
 * that the official client would never send.
 */
export class RawClient {
  readonly messages: Array<string | Buffer> = [];
  closeEvent: { code: number; reason: string } | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data, isBinary) => {
      this.messages.push(isBinary ? Buffer.from(data as Buffer) : data.toString());
    });
    ws.on("close", (code, reason) => {
      this.closeEvent = { code, reason: reason.toString() };
    });
  }

  static open(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
      const client = new RawClient(ws);
      ws.once("open", () => resolve(client));
      ws.once("unexpected-response", (_req, res) => reject(new HttpRefusal(res.statusCode ?? 0)));
      ws.once("error", reject);
    });
  }

  /** How a server answers an upgrade to `url`: 101 when it accepts (the socket is closed at once), or the HTTP status of its refusal. */
  static async upgradeStatus(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<number> {
    try {
      (await RawClient.open(url, options)).close();
      return 101;
    } catch (err) {
      if (err instanceof HttpRefusal) return err.status;
      throw err;
    }
  }

  send(frame: RawFrame | string | Buffer): void {
    this.ws.send(typeof frame === "string" || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  /** JSON frames received so far. */
  get frames(): RawFrame[] {
    return this.messages.filter((m): m is string => typeof m === "string").map((m) => JSON.parse(m) as RawFrame);
  }

  /** Waits for a JSON frame matching `match`, returns it. */
  async next(match: (frame: RawFrame) => boolean, what = "a frame"): Promise<RawFrame> {
    return waitFor(() => this.frames.find(match), what);
  }

  reply(ref: string): Promise<RawFrame> {
    return this.next((f) => f[3] === "phx_reply" && f[1] === ref, `reply to ref ${ref}`);
  }

  async closed(): Promise<{ code: number; reason: string }> {
    return waitFor(() => this.closeEvent, "the socket to close", 15000);
  }

  close(): void {
    this.ws.close();
  }

  /** Joins `topic` and resolves with the join reply, whatever it says; `ref` (the join_ref of the channel's later frames) defaults to this client's next own, "j1", "j2", …. */
  join(topic: string, payload: Record<string, unknown> = {}, ref = `j${++this.refs}`): Promise<RawFrame> {
    this.send([ref, ref, topic, "phx_join", payload]);
    return this.reply(ref);
  }

  /** Joins `topic` and resolves with the join's response; fails unless the join is answered ok. */
  async joined<T = Record<string, unknown>>(topic: string, payload: Record<string, unknown> = {}, ref?: string): Promise<T> {
    const reply = await this.join(topic, payload, ref);
    const { status, response } = reply[4] as { status: string; response: T };
    if (status !== "ok") throw new Error(`join of ${topic} answered ${JSON.stringify(reply[4])}`);
    return response;
  }

  leave(topic: string): void {
    this.send([null, `l${++this.refs}`, topic, "phx_leave", {}]);
  }

  private refs = 0;
}

export class HttpRefusal extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}
