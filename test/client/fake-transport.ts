import { expect, vi } from "vitest";

/**
 * A WebSocket stand-in for state-machine tests under fake timers: the test opens it, feeds it
 * server frames and closes it, and reads back what the client sent. Behaves like the browser's
 * WebSocket where the client can tell: `close()` moves to CLOSING and the close event follows
 * on a later tick.
 */
export class FakeTransport {
  static instances: FakeTransport[] = [];

  static reset(): void {
    FakeTransport.instances = [];
  }

  static latest(): FakeTransport {
    const last = FakeTransport.instances.at(-1);
    if (!last) throw new Error("no transport was created");
    return last;
  }

  readyState = 0;
  bufferedAmount = 0;
  binaryType = "blob";
  sent: string[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  onopen: (() => void) | null = null;
  onerror: ((error: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason?: string; wasClean?: boolean }) => void) | null = null;

  constructor(
    public url: string,
    public protocols?: string | string[],
  ) {
    FakeTransport.instances.push(this);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("send on a transport that is not open");
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) return;
    this.closedWith = { code, reason };
    this.readyState = 2;
    setTimeout(() => this.finishClose(code ?? 1005, reason ?? ""), 0);
  }

  // What the server or the network does:

  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }

  /** The server (or the network) drops the connection. */
  drop(code = 1006): void {
    this.finishClose(code, "");
  }

  fail(): void {
    this.onerror?.(new Error("connection refused"));
    this.finishClose(1006, "");
  }

  receive(joinRef: string | null, ref: string | null, topic: string, event: string, payload: unknown): void {
    this.onmessage?.({ data: JSON.stringify([joinRef, ref, topic, event, payload]) });
  }

  /** Replies to the last frame sent on `event` (and topic) with `status`. */
  reply(event: string, status: string, response: unknown = {}): void {
    const frame = this.lastSent(event);
    if (!frame) throw new Error(`nothing was sent on ${event}`);
    this.receive(frame.joinRef, frame.ref, frame.topic, "phx_reply", { status, response });
  }

  frames(): { joinRef: string | null; ref: string | null; topic: string; event: string; payload: unknown }[] {
    return this.sent.map((text) => {
      const [joinRef, ref, topic, event, payload] = JSON.parse(text) as [string | null, string | null, string, string, unknown];
      return { joinRef, ref, topic, event, payload };
    });
  }

  lastSent(event: string): ReturnType<FakeTransport["frames"]>[number] | undefined {
    return this.frames().filter((f) => f.event === event).at(-1);
  }

  events(): string[] {
    return this.frames().map((f) => `${f.topic} ${f.event}`);
  }

  private finishClose(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason, wasClean: code === 1000 });
  }
}

/** Under fake timers: advances to just before `delay`, checks no transport was made, then to `delay` and checks one was. */
export function expectConnectAfter(delay: number): void {
  const before = FakeTransport.instances.length;
  vi.advanceTimersByTime(delay - 1);
  expect(FakeTransport.instances.length).toBe(before);
  vi.advanceTimersByTime(1);
  expect(FakeTransport.instances.length).toBe(before + 1);
}
