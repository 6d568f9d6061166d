import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SocketOptions } from "../../client/index.js";
import { FakeTransport, expectConnectAfter } from "./fake-transport.js";
import { type SocketClass, fakeTransport, implementations } from "./implementations.js";

const RECONNECT_DELAYS = [10, 50, 100, 150, 200, 250, 500, 1000, 2000, 5000, 5000];

describe.each(implementations)("%s Socket: reconnect, heartbeat and send buffer", (_name, Socket: SocketClass) => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeTransport.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const make = (opts: SocketOptions = {}) => new Socket("ws://example.test/socket", { transport: fakeTransport, ...opts });

  it("reconnects after an unclean close with the backoff table, and starts over once connected", () => {
    const socket = make();
    socket.connect();
    FakeTransport.latest().open();
    FakeTransport.latest().drop(1006);
    for (const delay of RECONNECT_DELAYS) {
      expectConnectAfter(delay);
      FakeTransport.latest().fail();
    }
    expectConnectAfter(5000);
    FakeTransport.latest().open();
    expect(socket.isConnected()).toBe(true);
    FakeTransport.latest().drop(1006);
    expectConnectAfter(10);
  });

  it("uses a custom reconnectAfterMs", () => {
    const tries: number[] = [];
    const socket = make({ reconnectAfterMs: (n) => (tries.push(n), 1234) });
    socket.connect();
    FakeTransport.latest().fail();
    expectConnectAfter(1234);
    FakeTransport.latest().fail();
    expectConnectAfter(1234);
    expect(tries).toEqual([1, 2]);
  });

  it("disconnect() closes cleanly and never reconnects", () => {
    const socket = make();
    const closed = vi.fn();
    const done = vi.fn();
    socket.onClose(closed);
    socket.connect();
    FakeTransport.latest().open();
    socket.disconnect(done, 1000, "bye");
    expect(FakeTransport.latest().closedWith).toEqual({ code: 1000, reason: "bye" });
    vi.advanceTimersByTime(60_000);
    expect(done).toHaveBeenCalledTimes(1);
    expect(closed).toHaveBeenCalledTimes(1);
    expect(FakeTransport.instances).toHaveLength(1);
    expect(socket.connectionState()).toBe("closed");
  });

  it("sends a heartbeat every interval while its replies come back", () => {
    const socket = make({ heartbeatIntervalMs: 1000 });
    socket.connect();
    const transport = FakeTransport.latest();
    transport.open();
    vi.advanceTimersByTime(999);
    expect(transport.events()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(transport.events()).toEqual(["phoenix heartbeat"]);
    transport.reply("heartbeat", "ok");
    vi.advanceTimersByTime(1000);
    expect(transport.events()).toEqual(["phoenix heartbeat", "phoenix heartbeat"]);
    transport.reply("heartbeat", "ok");
    vi.advanceTimersByTime(999);
    expect(transport.closedWith).toBeNull();
    expect(socket.isConnected()).toBe(true);
  });

  it("drops a connection whose heartbeat goes unanswered, errors its channels and reconnects", () => {
    const socket = make({ heartbeatIntervalMs: 1000 });
    socket.connect();
    const transport = FakeTransport.latest();
    transport.open();
    const channel = socket.channel("room:1");
    const errors: unknown[] = [];
    channel.onError((reason) => errors.push(reason));
    channel.join();
    transport.reply("phx_join", "ok");
    vi.advanceTimersByTime(1000); // heartbeat sent
    vi.advanceTimersByTime(1000); // and not answered
    expect(transport.closedWith).toEqual({ code: 1000, reason: "heartbeat timeout" });
    expect(errors).toEqual([{ source: "transport", reason: "heartbeat_timeout" }]);
    vi.advanceTimersByTime(2000);
    expect(FakeTransport.instances).toHaveLength(2);
    FakeTransport.latest().open();
    // The errored channel rejoins as soon as the socket is back.
    expect(FakeTransport.latest().events()).toEqual(["room:1 phx_join"]);
  });

  it("buffers pushes made before the connection opens and sends them in order", () => {
    const socket = make();
    socket.push({ topic: "t", event: "a", payload: { n: 1 }, ref: "r1" });
    socket.push({ topic: "t", event: "b", payload: { n: 2 }, ref: "r2" });
    socket.connect();
    const transport = FakeTransport.latest();
    expect(transport.sent).toEqual([]);
    transport.open();
    expect(transport.frames().map((f) => [f.event, f.payload])).toEqual([
      ["a", { n: 1 }],
      ["b", { n: 2 }],
    ]);
  });

  it("ping reports the round trip, and refuses when not connected", () => {
    const socket = make();
    expect(socket.ping(() => {})).toBe(false);
    socket.connect();
    const transport = FakeTransport.latest();
    transport.open();
    const latencies: number[] = [];
    expect(socket.ping((ms) => latencies.push(ms))).toBe(true);
    vi.advanceTimersByTime(7);
    transport.reply("heartbeat", "ok");
    expect(latencies).toEqual([7]);
  });

  it("re-reads params at each connect and sends authToken as a subprotocol", () => {
    let n = 0;
    const socket = make({ params: () => ({ attempt: ++n, user: { id: 7 } }), authToken: "abc" });
    socket.connect();
    expect(FakeTransport.latest().url).toBe("ws://example.test/socket/websocket?attempt=1&user%5Bid%5D=7&vsn=2.0.0");
    expect(FakeTransport.latest().protocols).toEqual(["phoenix", "base64url.bearer.phx.YWJj"]);
    FakeTransport.latest().fail();
    vi.advanceTimersByTime(10);
    expect(FakeTransport.latest().url).toContain("attempt=2");
    expect(FakeTransport.latest().binaryType).toBe("arraybuffer");
  });

  it("reports open, error, close and message to its callbacks, and off() removes them", () => {
    const socket = make();
    const seen: string[] = [];
    const refs = [
      socket.onOpen(() => seen.push("open")),
      socket.onMessage((m) => seen.push(`message ${m.event}`)),
      socket.onError(() => seen.push("error")),
      socket.onClose((e) => seen.push(`close ${e.code}`)),
    ];
    socket.connect();
    FakeTransport.latest().open();
    FakeTransport.latest().receive(null, null, "room:1", "news", {});
    FakeTransport.latest().fail();
    expect(seen).toEqual(["open", "message news", "error", "close 1006"]);
    socket.off(refs);
    vi.advanceTimersByTime(10);
    FakeTransport.latest().open();
    expect(seen).toHaveLength(4);
  });
});
