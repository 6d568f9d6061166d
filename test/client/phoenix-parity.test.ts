/**
 * Behaviours phoenix.js's own unit tests rely on, which apps' test suites meet too: loading the
 * client where there is no TextEncoder (jsdom), binary-field errors that name the field, channel
 * pushes handed to `socket.push` as the message alone, and no reconnect after a normal close.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeTransport } from "./fake-transport.js";
import { fakeTransport } from "./implementations.js";

describe("cinder/client in an environment without TextEncoder (jsdom)", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it("loads, connects and sends JSON without touching TextEncoder or TextDecoder", async () => {
    vi.stubGlobal("TextEncoder", undefined);
    vi.stubGlobal("TextDecoder", undefined);
    vi.resetModules();
    const client = await import("../../client/index.js");
    FakeTransport.reset();
    const socket = new client.Socket("ws://example.test/socket", { transport: fakeTransport, authToken: "tökén" });
    socket.connect();
    const ws = FakeTransport.latest();
    ws.open();
    socket.channel("room:lobby").join();
    expect(ws.events()).toEqual(["room:lobby phx_join"]);
    // The subprotocol still carries the token's UTF-8 bytes, base64url-encoded.
    expect(ws.protocols).toEqual(["phoenix", `base64url.bearer.phx.${Buffer.from("tökén").toString("base64url")}`]);
  });
});

describe("cinder/client Serializer", () => {
  it("names the field that is too long for a binary frame", async () => {
    const { Serializer } = await import("../../client/index.js");
    const message = { join_ref: "1", ref: "2", topic: "t".repeat(256), event: "e", payload: new ArrayBuffer(1) };
    expect(() => Serializer.encode(message, () => {})).toThrow(/topic/);
    expect(() => Serializer.encode({ ...message, topic: "t", event: "e".repeat(256) }, () => {})).toThrow(/event/);
  });
});

describe("cinder/client Socket, as phoenix.js's tests observe it", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeTransport.reset();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a channel hands its pushes to socket.push as the message alone, and outdated ones are still dropped", async () => {
    const { Socket } = await import("../../client/index.js");
    const socket = new Socket("ws://example.test/socket", { transport: fakeTransport });
    const push = vi.spyOn(socket, "push");
    const channel = socket.channel("room:lobby", { user: "ada" });
    channel.join();
    expect(push.mock.calls).toEqual([[{ topic: "room:lobby", event: "phx_join", payload: { user: "ada" }, ref: "3", join_ref: "3" }]]);
    // Buffered while disconnected; the channel leaves before the socket connects: the join is outdated.
    channel.leave();
    socket.connect();
    FakeTransport.latest().open();
    expect(FakeTransport.latest().events()).toEqual([]);
  });

  it("does not reconnect after a normal close (1000) from the other side, and does after any other", async () => {
    const { Socket } = await import("../../client/index.js");
    const socket = new Socket("ws://example.test/socket", { transport: fakeTransport });
    socket.connect();
    FakeTransport.latest().open();
    FakeTransport.latest().drop(1000);
    vi.advanceTimersByTime(60_000);
    expect(FakeTransport.instances).toHaveLength(1);
    socket.connect();
    FakeTransport.latest().open();
    FakeTransport.latest().drop(1001);
    vi.advanceTimersByTime(10);
    expect(FakeTransport.instances).toHaveLength(3);
  });
});
