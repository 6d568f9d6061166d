/**
 * A Socket over LongPoll, and the WebSocket-to-LongPoll fallback (`longPollFallbackMs`) with its
 * memory in sessionStorage, under fake timers: a fake WebSocket and a fake XMLHttpRequest stand
 * in for the network. Runs against our Socket and phoenix.js's.
 */
import * as phoenix from "phoenix";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import * as cinder from "../../client/index.js";
import type { SessionStore, TransportConstructor } from "../../client/index.js";
import { FakeTransport } from "./fake-transport.js";
import { FakeXHR } from "./fake-xhr.js";
import { type SocketClass, fakeTransport, implementations } from "./implementations.js";

const LONG_POLLS: Record<string, TransportConstructor> = {
  cinder: cinder.LongPoll,
  phoenix: (phoenix as unknown as { LongPoll: TransportConstructor }).LongPoll,
};
/** Timers set to 0 ms fire 1 ms later, as in Node; advancing 1 ms runs LongPoll's next-tick polls and batches. */
const NEXT_TICK = 1;
const MEMORY_KEY = "phx:fallback:LongPoll";

/** A sessionStorage stand-in: what the socket remembers for the tab. */
function memoryStore(): SessionStore & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return { items, getItem: (key) => items.get(key) ?? null, setItem: (key, value) => void items.set(key, value) };
}

/** The frames of a LongPoll POST body (one JSON frame a line). */
function framesOf(request: FakeXHR): { joinRef: string | null; ref: string | null; topic: string; event: string; payload: unknown }[] {
  return request.body!.split("\n").map((line) => {
    const [joinRef, ref, topic, event, payload] = JSON.parse(line) as [string | null, string | null, string, string, unknown];
    return { joinRef, ref, topic, event, payload };
  });
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeTransport.reset();
  FakeXHR.reset();
  vi.stubGlobal("XMLHttpRequest", FakeXHR);
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe.each(implementations)("%s Socket over LongPoll", (name, Socket: SocketClass) => {
  const LongPoll = LONG_POLLS[name];

  /** Opens the pending LongPoll session with `token`. */
  function handshake(token: string): void {
    vi.advanceTimersByTime(NEXT_TICK);
    FakeXHR.only("GET").respond({ status: 410, token, messages: [] });
  }

  /** Answers the pending POST with 200 and returns its frames. */
  function acceptPost() {
    vi.advanceTimersByTime(NEXT_TICK);
    const post = FakeXHR.only("POST");
    post.respond({ status: 200 });
    return framesOf(post);
  }

  /** The server's reply to `frame`, delivered by the pending poll. */
  function replyTo(frame: ReturnType<typeof framesOf>[number], token: string, response: object = {}): void {
    const reply = JSON.stringify([frame.joinRef, frame.ref, frame.topic, "phx_reply", { status: "ok", response }]);
    FakeXHR.only("GET").respond({ status: 200, token, messages: [reply] });
    vi.advanceTimersByTime(NEXT_TICK);
  }

  it("joins, pushes and gets replies and broadcasts; a 410 mid-session makes it reconnect and rejoin", () => {
    const socket = new Socket("ws://example.test/socket", { transport: LongPoll });
    socket.connect();
    handshake("t1");
    expect(socket.isConnected()).toBe(true);

    const channel = socket.channel("room:lobby", { user: "ada" });
    const joined = vi.fn();
    channel.join().receive("ok", joined);
    const [join] = acceptPost();
    expect(join).toMatchObject({ topic: "room:lobby", event: "phx_join", payload: { user: "ada" } });
    replyTo(join, "t1");
    expect(joined).toHaveBeenCalledTimes(1);

    const answered = vi.fn();
    channel.push("ping", { n: 1 }).receive("ok", answered);
    const [ping] = acceptPost();
    expect(ping).toMatchObject({ event: "ping", payload: { n: 1 }, joinRef: join.ref });
    replyTo(ping, "t1", { pong: 1 });
    expect(answered).toHaveBeenCalledWith({ pong: 1 });

    const said = vi.fn();
    channel.on("said", said);
    FakeXHR.only("GET").respond({ status: 200, token: "t1", messages: [JSON.stringify([null, null, "room:lobby", "said", { body: "hi" }])] });
    vi.advanceTimersByTime(NEXT_TICK);
    expect(said).toHaveBeenCalledWith({ body: "hi" }, null, join.ref);

    // The server forgot the session: the socket reconnects (10 ms backoff) and the channel rejoins.
    const errored = vi.fn();
    channel.onError(errored);
    FakeXHR.only("GET").respond({ status: 410, token: "t2" });
    expect(errored).toHaveBeenCalledTimes(1);
    // (The old transport is waited for, as after any close, before the new one starts.)
    vi.advanceTimersByTime(1000);
    FakeXHR.only("GET").respond({ status: 410, token: "t3" });
    const [rejoin] = acceptPost();
    expect(rejoin).toMatchObject({ topic: "room:lobby", event: "phx_join" });
    expect(rejoin.joinRef).not.toBe(join.joinRef);
  });

  it("a 403 errors the socket and its channels", () => {
    const socket = new Socket("ws://example.test/socket", { transport: LongPoll });
    const errors = vi.fn();
    socket.onError(errors);
    socket.connect();
    vi.advanceTimersByTime(NEXT_TICK);
    FakeXHR.only("GET").respond({ status: 403 });
    expect(errors).toHaveBeenCalledWith(403, expect.anything(), 0);
    expect(socket.isConnected()).toBe(false);
  });
});

describe.each(implementations)("%s Socket with longPollFallbackMs", (name, Socket: SocketClass) => {
  const LongPoll = LONG_POLLS[name];
  const make = (sessionStorage: SessionStore) =>
    new Socket("ws://example.test/socket", { transport: fakeTransport, longPollFallbackMs: 2500, sessionStorage });

  it("falls back to LongPoll when the WebSocket has not opened in time, and remembers it for the tab", () => {
    const store = memoryStore();
    const socket = make(store);
    socket.connect();
    expect(FakeTransport.instances).toHaveLength(1);
    vi.advanceTimersByTime(2499);
    expect(socket.transport).toBe(fakeTransport);
    vi.advanceTimersByTime(1);
    expect(socket.transport).toBe(LongPoll);
    vi.advanceTimersByTime(NEXT_TICK);
    const poll = FakeXHR.only("GET");
    expect(poll.url.startsWith("http://example.test/socket/longpoll?vsn=2.0.0")).toBe(true);
    expect(store.items.get(MEMORY_KEY)).toBeUndefined();
    poll.respond({ status: 410, token: "t1" });
    expect(socket.isConnected()).toBe(true);
    expect(store.items.get(MEMORY_KEY)).toBe("true");
  });

  it("falls back at once when the WebSocket errors before it ever opened", () => {
    const socket = make(memoryStore());
    socket.connect();
    FakeTransport.latest().fail();
    expect(socket.transport).toBe(LongPoll);
    vi.advanceTimersByTime(NEXT_TICK);
    expect(FakeXHR.only("GET").url.startsWith("http://example.test/socket/longpoll")).toBe(true);
  });

  it("a tab that needed the fallback goes straight to LongPoll", () => {
    const store = memoryStore();
    store.setItem(MEMORY_KEY, "true");
    const socket = make(store);
    socket.connect();
    expect(FakeTransport.instances).toHaveLength(0);
    expect(socket.transport).toBe(LongPoll);
    vi.advanceTimersByTime(NEXT_TICK);
    expect(FakeXHR.pending()).toHaveLength(1);
  });

  it("stays on a WebSocket that opens and answers a ping in time, and remembers nothing", () => {
    const store = memoryStore();
    const socket = make(store);
    socket.connect();
    const ws = FakeTransport.latest();
    ws.open();
    const ping = ws.lastSent("heartbeat")!;
    ws.receive(null, ping.ref, "phoenix", "phx_reply", { status: "ok", response: {} });
    vi.advanceTimersByTime(10_000);
    expect(socket.transport).toBe(fakeTransport);
    expect(socket.isConnected()).toBe(true);
    expect(FakeXHR.requests).toHaveLength(0);
    expect(store.items.size).toBe(0);
  });

  it("falls back when the WebSocket opens but its ping goes unanswered (a proxy that passes nothing)", () => {
    const socket = make(memoryStore());
    socket.connect();
    FakeTransport.latest().open();
    vi.advanceTimersByTime(2500);
    expect(socket.transport).toBe(LongPoll);
  });
});
