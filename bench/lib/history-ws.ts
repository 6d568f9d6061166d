/**
 * A bare Phoenix V2 JSON client on `ws`, for the parts of the history benchmark the native load
 * client cannot play (rejoins with `_since`, checking offsets). Every frame is parsed: the
 * benchmark needs each payload's `_o`.
 */
import WebSocket from "ws";

/** `[join_ref, ref, topic, event, payload]` */
export type PhoenixFrame = [string | null, string | null, string, string, Record<string, unknown>];

export type FrameListener = (frame: PhoenixFrame, atMs: number) => void;

export const JOIN_PARAMS = { user: "bench", presence: false } as const;

export function socketUrl(port: number): string {
  return `ws://127.0.0.1:${port}/socket/websocket?vsn=2.0.0&user=bench`;
}

export class PhoenixSocket {
  private nextRef = 1;
  private readonly waiting = new Map<string, (response: Record<string, unknown>) => void>();
  /** Every frame, after any join reply awaited through join() has been settled. */
  onFrame: FrameListener = () => {};

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => this.receive(data));
  }

  static open(url: string): Promise<PhoenixSocket> {
    // No compression: the native load client and browsers at scale are measured without it.
    const ws = new WebSocket(url, { perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new PhoenixSocket(ws)));
      ws.once("error", reject);
    });
  }

  /** Sends a join without waiting; its ref (also the join_ref) tells its reply apart. */
  sendJoin(topic: string, params: Record<string, unknown>): string {
    const ref = String(this.nextRef++);
    this.ws.send(JSON.stringify([ref, ref, topic, "phx_join", params]));
    return ref;
  }

  /** Joins and resolves with the reply's response; rejects on an error reply. */
  join(topic: string, params: Record<string, unknown>): Promise<{ joinRef: string; response: Record<string, unknown> }> {
    const joinRef = this.sendJoin(topic, params);
    return new Promise((resolve, reject) => {
      this.waiting.set(joinRef, (reply) => {
        if (reply.status === "ok") resolve({ joinRef, response: (reply.response ?? {}) as Record<string, unknown> });
        else reject(new Error(`join ${topic} refused: ${JSON.stringify(reply.response)}`));
      });
    });
  }

  /** A push whose reply nobody waits for (the broadcast it causes is the signal). */
  push(topic: string, joinRef: string, event: string, payload: Record<string, unknown>): void {
    this.ws.send(JSON.stringify([joinRef, String(this.nextRef++), topic, event, payload]));
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once("close", () => resolve());
      this.ws.close();
    });
  }

  private receive(data: Buffer): void {
    const at = performance.now();
    const frame = JSON.parse(data.toString("utf8")) as PhoenixFrame;
    if (frame[3] === "phx_reply" && frame[1] !== null) {
      const settle = this.waiting.get(frame[1]);
      if (settle) {
        this.waiting.delete(frame[1]);
        settle(frame[4]);
      }
    }
    this.onFrame(frame, at);
  }
}

/** `promise`, or an error naming `what` after `ms`: a lost message must not hang the benchmark. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens `n` sockets, `batch` at a time (a burst of thousands of handshakes only adds retries). */
export async function openSockets(port: number, n: number, batch = 100): Promise<PhoenixSocket[]> {
  const sockets: PhoenixSocket[] = [];
  for (let i = 0; i < n; i += batch) {
    const size = Math.min(batch, n - i);
    sockets.push(...(await Promise.all(Array.from({ length: size }, () => PhoenixSocket.open(socketUrl(port))))));
  }
  return sockets;
}

export async function closeAll(sockets: readonly PhoenixSocket[]): Promise<void> {
  await Promise.all(sockets.map((s) => s.close()));
}

/** The `_recovery` of a join reply on a history topic. */
export interface RecoveryReply {
  recovered: boolean;
  o: number;
  e: string;
}

export function recoveryOf(response: Record<string, unknown>): RecoveryReply {
  const r = response._recovery as Partial<RecoveryReply> | undefined;
  if (!r || typeof r.o !== "number" || typeof r.e !== "string" || typeof r.recovered !== "boolean") {
    throw new Error(`join reply without _recovery: ${JSON.stringify(response)}`);
  }
  return { recovered: r.recovered, o: r.o, e: r.e };
}

/** The offset a broadcast on a history topic carries, or undefined. */
export function offsetOf(frame: PhoenixFrame): number | undefined {
  const o = frame[4]?._o;
  return typeof o === "number" ? o : undefined;
}
