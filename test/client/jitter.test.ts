/**
 * The `jitter` option: full jitter on the reconnect and rejoin backoff, with an injected random
 * source and fake timers. Off by default, where the waits are phoenix.js's exactly.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Socket, type SocketOptions } from "../../client/index.js";
import { withFullJitter } from "../../client/jitter.js";
import { FakeTransport, expectConnectAfter } from "./fake-transport.js";
import { fakeTransport } from "./implementations.js";

beforeEach(() => {
  vi.useFakeTimers();
  FakeTransport.reset();
});
afterEach(() => {
  vi.useRealTimers();
});

const make = (opts: SocketOptions) => new Socket("ws://example.test/socket", { transport: fakeTransport, ...opts });

describe("withFullJitter", () => {
  it("waits random × backoff(tries), rounded down: anywhere from 0 to just under the backoff", () => {
    const backoff = (tries: number) => tries * 1000;
    expect(withFullJitter(backoff, () => 0)(3)).toBe(0);
    expect(withFullJitter(backoff, () => 0.25)(2)).toBe(500);
    expect(withFullJitter(backoff, () => 0.9999)(1)).toBe(999);
  });
});

describe("Socket jitter option", () => {
  it("spreads each reconnect wait over [0, reconnectAfterMs(tries)) with the given random source", () => {
    const draws = [0.5, 0.1, 0.75];
    const socket = make({ reconnectAfterMs: (tries) => tries * 1000, jitter: () => draws.shift()! });
    socket.connect();
    FakeTransport.latest().fail();
    expectConnectAfter(500); // 0.5 × 1000
    FakeTransport.latest().fail();
    expectConnectAfter(200); // 0.1 × 2000
    FakeTransport.latest().fail();
    expectConnectAfter(2250); // 0.75 × 3000
  });

  it("spreads each rejoin wait the same way", () => {
    const socket = make({ rejoinAfterMs: () => 4000, jitter: () => 0.25 });
    socket.connect();
    const ws = FakeTransport.latest();
    ws.open();
    const channel = socket.channel("room:lobby");
    channel.join();
    ws.reply("phx_join", "error", { reason: "not yet" });
    const joins = () => ws.frames().filter((f) => f.event === "phx_join").length;
    vi.advanceTimersByTime(999);
    expect(joins()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(joins()).toBe(2);
  });

  it("is off by default: the waits are the backoff table's exactly, and Math.random is not called", () => {
    const random = vi.spyOn(Math, "random");
    const socket = make({});
    socket.connect();
    FakeTransport.latest().fail();
    expectConnectAfter(10);
    FakeTransport.latest().fail();
    expectConnectAfter(50);
    expect(random).not.toHaveBeenCalled();
    random.mockRestore();
  });

  it("jitter: true draws from Math.random", () => {
    const random = vi.spyOn(Math, "random").mockReturnValue(0.5);
    const socket = make({ reconnectAfterMs: () => 1000, jitter: true });
    socket.connect();
    FakeTransport.latest().fail();
    expectConnectAfter(500);
    expect(random).toHaveBeenCalled();
    random.mockRestore();
  });
});
