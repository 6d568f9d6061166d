import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Socket } from "../../client/index.js";
import { FakeTransport } from "./fake-transport.js";
import { type SocketClass, fakeTransport, implementations } from "./implementations.js";

describe.each(implementations)("%s Channel: join, rejoin, push buffer and leave", (_name, SocketImpl: SocketClass) => {
  let socket: Socket;
  let transport: FakeTransport;

  beforeEach(() => {
    vi.useFakeTimers();
    FakeTransport.reset();
    socket = new SocketImpl("ws://example.test/socket", { transport: fakeTransport, timeout: 5000 });
    socket.connect();
    transport = FakeTransport.latest();
    transport.open();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const joins = () => FakeTransport.instances.flatMap((t) => t.frames()).filter((f) => f.event === "phx_join");

  it("joins with its params and becomes joined on ok", () => {
    const channel = socket.channel("room:1", { user: "ada" });
    const replies: unknown[] = [];
    channel.join().receive("ok", (response) => replies.push(response));
    expect(channel.state).toBe("joining");
    const join = transport.lastSent("phx_join")!;
    expect(join).toMatchObject({ topic: "room:1", payload: { user: "ada" } });
    expect(join.joinRef).toBe(join.ref);
    expect(channel.joinRef()).toBe(join.ref);
    transport.reply("phx_join", "ok", { welcome: true });
    expect(channel.state).toBe("joined");
    expect(replies).toEqual([{ welcome: true }]);
  });

  it("throws on a second join and on a push before join", () => {
    const channel = socket.channel("room:1");
    expect(() => channel.push("x", {})).toThrow(/before joining/);
    channel.join();
    expect(() => channel.join()).toThrow(/multiple times/);
  });

  it("buffers pushes until joined, sends them with new refs, and skips ones that timed out meanwhile", () => {
    const channel = socket.channel("room:1");
    channel.join();
    const early = vi.fn();
    const late = vi.fn();
    channel.push("early", { n: 1 }, 1000).receive("timeout", early);
    vi.advanceTimersByTime(1000);
    expect(early).toHaveBeenCalledTimes(1);
    channel.push("late", { n: 2 }).receive("ok", late);
    expect(transport.events()).toEqual(["room:1 phx_join"]);
    transport.reply("phx_join", "ok");
    expect(transport.events()).toEqual(["room:1 phx_join", "room:1 late"]);
    transport.reply("late", "ok", { got: 2 });
    expect(late).toHaveBeenCalledWith({ got: 2 });
  });

  it("a push gets ok, error or timeout, and a receive after the reply fires at once", () => {
    const channel = socket.channel("room:1");
    channel.join();
    transport.reply("phx_join", "ok");
    const push = channel.push("a", {});
    transport.reply("a", "error", { reason: "no" });
    const afterwards = vi.fn();
    push.receive("error", afterwards);
    expect(afterwards).toHaveBeenCalledWith({ reason: "no" });
    const timedOut = vi.fn();
    channel.push("b", {}, 300).receive("timeout", timedOut);
    vi.advanceTimersByTime(300);
    expect(timedOut).toHaveBeenCalledTimes(1);
  });

  it("rejoins after a join error with the rejoin backoff, only while connected", () => {
    const channel = socket.channel("room:1");
    channel.join();
    for (const delay of [1000, 2000, 5000, 10000, 10000]) {
      transport.reply("phx_join", "error", { reason: "not yet" });
      expect(channel.state).toBe("errored");
      const before = joins().length;
      vi.advanceTimersByTime(delay - 1);
      expect(joins().length).toBe(before);
      vi.advanceTimersByTime(1);
      expect(joins().length).toBe(before + 1);
    }
    transport.reply("phx_join", "ok");
    expect(channel.state).toBe("joined");
  });

  it("on a join timeout, leaves that join, errors and rejoins", () => {
    const channel = socket.channel("room:1");
    channel.join();
    const firstJoinRef = channel.joinRef();
    vi.advanceTimersByTime(5000);
    expect(transport.events()).toEqual(["room:1 phx_join", "room:1 phx_leave"]);
    expect(transport.lastSent("phx_leave")!.joinRef).toBe(firstJoinRef);
    expect(channel.state).toBe("errored");
    vi.advanceTimersByTime(1000);
    expect(joins()).toHaveLength(2);
    expect(channel.joinRef()).not.toBe(firstJoinRef);
  });

  it("errors when the connection drops and rejoins with a new join ref once reconnected", () => {
    const channel = socket.channel("room:1");
    const errors: unknown[] = [];
    channel.onError((reason) => errors.push(reason));
    channel.join();
    transport.reply("phx_join", "ok");
    const firstJoinRef = channel.joinRef();
    transport.drop(1006);
    expect(errors).toEqual([{ source: "transport", reason: "connection_closed" }]);
    expect(channel.state).toBe("errored");
    vi.advanceTimersByTime(10);
    FakeTransport.latest().open();
    const rejoin = FakeTransport.latest().lastSent("phx_join")!;
    expect(rejoin.joinRef).not.toBe(firstJoinRef);
    FakeTransport.latest().reply("phx_join", "ok");
    expect(channel.state).toBe("joined");
  });

  it("errors on the server's phx_error and rejoins after rejoinAfterMs", () => {
    const channel = socket.channel("room:1");
    channel.join();
    transport.reply("phx_join", "ok");
    transport.receive(channel.joinRef(), channel.joinRef(), "room:1", "phx_error", {});
    expect(channel.state).toBe("errored");
    vi.advanceTimersByTime(999);
    expect(joins()).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(joins()).toHaveLength(2);
  });

  it("closes on the server's phx_close and is removed from the socket", () => {
    const channel = socket.channel("room:1");
    const closed = vi.fn();
    channel.onClose(closed);
    channel.join();
    transport.reply("phx_join", "ok");
    transport.receive(channel.joinRef(), channel.joinRef(), "room:1", "phx_close", {});
    expect(channel.state).toBe("closed");
    expect(closed).toHaveBeenCalledTimes(1);
    expect(socket.channels).not.toContain(channel);
    vi.advanceTimersByTime(60_000);
    expect(joins()).toHaveLength(1);
  });

  it("leave() sends phx_leave and closes at once", () => {
    const channel = socket.channel("room:1");
    const closed = vi.fn();
    channel.onClose(closed);
    channel.join();
    transport.reply("phx_join", "ok");
    const ok = vi.fn();
    channel.leave().receive("ok", ok);
    expect(transport.lastSent("phx_leave")!.joinRef).toBe(channel.joinRef());
    expect(closed).toHaveBeenCalledWith("leave", undefined, channel.joinRef());
    expect(ok).toHaveBeenCalledTimes(1);
    expect(channel.state).toBe("closed");
  });

  it("delivers broadcasts and messages of the current join, drops those of an earlier join", () => {
    const channel = socket.channel("room:1");
    const seen: unknown[] = [];
    channel.on("news", (payload) => seen.push(payload));
    channel.join();
    transport.reply("phx_join", "ok");
    transport.receive(null, null, "room:1", "news", { n: 1 });
    transport.receive(channel.joinRef(), null, "room:1", "news", { n: 2 });
    transport.receive("stale", null, "room:1", "news", { n: 3 });
    transport.receive(null, null, "room:2", "news", { n: 4 });
    expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it("off() unbinds one callback by ref, or all of an event", () => {
    const channel = socket.channel("room:1");
    const a = vi.fn();
    const b = vi.fn();
    const refA = channel.on("news", a);
    channel.on("news", b);
    channel.join();
    transport.reply("phx_join", "ok");
    channel.off("news", refA);
    transport.receive(null, null, "room:1", "news", {});
    expect([a.mock.calls.length, b.mock.calls.length]).toEqual([0, 1]);
    channel.off("news");
    transport.receive(null, null, "room:1", "news", {});
    expect(b).toHaveBeenCalledTimes(1);
  });

  it("a second channel instance joining the same topic makes the first leave", () => {
    const first = socket.channel("room:1");
    first.join();
    transport.reply("phx_join", "ok");
    const second = socket.channel("room:1");
    second.join();
    expect(first.state).toBe("closed");
    expect(transport.events()).toEqual(["room:1 phx_join", "room:1 phx_leave", "room:1 phx_join"]);
  });
});
