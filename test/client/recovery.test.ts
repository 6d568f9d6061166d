/**
 * cinder/client's own recovery on topics that keep history (phoenix.js has none, so these run
 * on our client only): the position it tracks from `_o` and `_recovery`, the `_since` its
 * rejoins send, and `onRecover`. Fake transport and timers, as in channel-state.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Socket, type Channel, type Params, type Recovery } from "../../client/index.js";
import { FakeTransport } from "./fake-transport.js";
import { fakeTransport } from "./implementations.js";

let socket: Socket;

beforeEach(() => {
  vi.useFakeTimers();
  FakeTransport.reset();
  socket = new Socket("ws://example.test/socket", { transport: fakeTransport, timeout: 5000 });
  socket.connect();
  FakeTransport.latest().open();
});
afterEach(() => {
  vi.useRealTimers();
});

const transport = () => FakeTransport.latest();
const joinParams = () => FakeTransport.instances.flatMap((t) => t.frames()).filter((f) => f.event === "phx_join").map((f) => f.payload);
const recovery = (recovered: boolean, o: number, e: string) => ({ _recovery: { recovered, o, e } });
const broadcast = (channel: Channel, payload: unknown) => transport().receive(null, null, channel.topic, "msg", payload);

/** The connection drops; the socket reconnects after its first backoff step and the channel rejoins. */
function reconnect(): void {
  transport().drop(1006);
  vi.advanceTimersByTime(10);
  transport().open();
}

describe("cinder Channel: recovery on topics with history", () => {
  it("sends no _since before its first successful join, even when that join is retried", () => {
    const channel = socket.channel("room:1", { user: "ada" });
    channel.join();
    transport().reply("phx_join", "error", { reason: "not yet" });
    vi.advanceTimersByTime(1000);
    vi.advanceTimersByTime(5000); // the retry times out, and is retried again
    vi.advanceTimersByTime(2000);
    expect(joinParams()).toEqual([{ user: "ada" }, { user: "ada" }, { user: "ada" }]);
    expect(channel.position).toMatchObject({ o: 0, e: null });
  });

  it("takes its position from the join reply, then from the _o of each message, which the app still sees", () => {
    const channel = socket.channel("room:1");
    const seen: unknown[] = [];
    channel.on("msg", (payload) => seen.push(payload));
    channel.join();
    transport().reply("phx_join", "ok", recovery(false, 5, "E1"));
    expect(channel.position).toMatchObject({ o: 5, e: "E1" });
    broadcast(channel, { body: "a", _o: 6 });
    broadcast(channel, { body: "b", _o: 7 });
    expect(channel.position.o).toBe(7);
    // Not offsets: no _o, or one that is not a number.
    broadcast(channel, { body: "c" });
    broadcast(channel, { body: "d", _o: "9" });
    expect(channel.position).toMatchObject({ o: 7, e: "E1" });
    expect(seen).toEqual([{ body: "a", _o: 6 }, { body: "b", _o: 7 }, { body: "c" }, { body: "d", _o: "9" }]);
    // A reply to a push carries no offset and moves nothing.
    channel.push("x", {});
    transport().reply("x", "ok", { _o: 100 });
    expect(channel.position.o).toBe(7);
  });

  it("takes each message's epoch too: when the history starts again while it is joined, it follows the new epoch", () => {
    const channel = socket.channel("room:1");
    channel.join();
    transport().reply("phx_join", "ok", recovery(false, 0, "E1"));
    broadcast(channel, { _o: 1, _e: "E1" });
    broadcast(channel, { _o: 2, _e: "E1" });
    broadcast(channel, { _o: 1, _e: "E2" }); // the history started again (Redis restarted empty)
    broadcast(channel, { _o: 2, _e: "E2" });
    expect(channel.position).toMatchObject({ o: 2, e: "E2" });
    // A payload without an epoch (stored by an older server) keeps the channel's.
    broadcast(channel, { _o: 3 });
    reconnect();
    expect(joinParams().at(-1)).toEqual({ _since: { o: 3, e: "E2" } });
    // Saved as JSON (say, before a page reload), a position is just {o, e}.
    expect(JSON.parse(JSON.stringify(channel.position))).toEqual({ o: 3, e: "E2" });
  });

  it("rejoins with _since merged into object params, leaving the app's object as it was", () => {
    const params = { user: "ada" };
    const channel = socket.channel("room:1", params);
    channel.join();
    transport().reply("phx_join", "ok", recovery(false, 0, "E1"));
    broadcast(channel, { _o: 1 });
    broadcast(channel, { _o: 2 });
    reconnect();
    expect(joinParams()).toEqual([{ user: "ada" }, { user: "ada", _since: { o: 2, e: "E1" } }]);
    expect(params).toEqual({ user: "ada" });
  });

  it("rejoins with _since merged into what a params function returns, called again at each join", () => {
    let token = 0;
    const channel = socket.channel("room:1", (): Params => ({ token: ++token }));
    channel.join();
    transport().reply("phx_join", "ok", recovery(false, 3, "E1"));
    reconnect();
    transport().reply("phx_join", "ok", recovery(true, 3, "E1"));
    broadcast(channel, { _o: 4 });
    reconnect();
    expect(joinParams()).toEqual([{ token: 1 }, { token: 2, _since: { o: 3, e: "E1" } }, { token: 3, _since: { o: 4, e: "E1" } }]);
  });

  it("an app's own _since (say, saved before a page reload) goes out until the channel has a position", () => {
    const channel = socket.channel("room:1", { _since: { o: 40, e: "E0" } });
    channel.join();
    transport().reply("phx_join", "ok", recovery(true, 42, "E0"));
    broadcast(channel, { _o: 41 });
    broadcast(channel, { _o: 42 });
    reconnect();
    expect(joinParams()).toEqual([{ _since: { o: 40, e: "E0" } }, { _since: { o: 42, e: "E0" } }]);
  });

  it("on a recovered join, moves with the replayed messages, so a cut in the middle of the replay resumes from the last one received", () => {
    const channel = socket.channel("room:1");
    channel.join();
    transport().reply("phx_join", "ok", recovery(false, 10, "E1"));
    reconnect();
    transport().reply("phx_join", "ok", recovery(true, 20, "E1"));
    expect(channel.position).toMatchObject({ o: 10, e: "E1" });
    for (let o = 11; o <= 14; o++) broadcast(channel, { _o: o });
    reconnect();
    expect(joinParams().at(-1)).toEqual({ _since: { o: 14, e: "E1" } });
  });

  it("on a join that cannot recover, goes on from the reply's offset and epoch", () => {
    const channel = socket.channel("room:1");
    channel.join();
    transport().reply("phx_join", "ok", recovery(false, 10, "E1"));
    reconnect();
    transport().reply("phx_join", "ok", recovery(false, 3, "E2"));
    expect(channel.position).toMatchObject({ o: 3, e: "E2" });
    reconnect();
    expect(joinParams().at(-1)).toEqual({ _since: { o: 3, e: "E2" } });
  });

  it("a reply without an epoch (the server could not read the history) leaves the next join without _since", () => {
    const channel = socket.channel("room:1");
    channel.join();
    transport().reply("phx_join", "ok", recovery(false, 4, "E1"));
    reconnect();
    transport().reply("phx_join", "ok", recovery(false, 0, ""));
    broadcast(channel, { _o: 1 });
    reconnect();
    expect(joinParams()).toEqual([{}, { _since: { o: 4, e: "E1" } }, {}]);
  });

  it("onRecover gets every _recovery, joined and before any replayed message; offRecover stops it", () => {
    const channel = socket.channel("room:1");
    const log: string[] = [];
    const recoveries: Recovery[] = [];
    const ref = channel.onRecover((r) => {
      recoveries.push(r);
      log.push(`recover ${channel.state}`);
    });
    const second = channel.onRecover(() => log.push("second"));
    expect(second).not.toBe(ref);
    channel.on("msg", (payload) => log.push(`msg ${(payload as { _o: number })._o}`));
    channel.join().receive("ok", (response) => log.push(`ok ${JSON.stringify(response)}`));
    transport().reply("phx_join", "ok", recovery(false, 0, "E1"));
    reconnect();
    transport().reply("phx_join", "ok", { ...recovery(true, 1, "E1"), extra: true });
    broadcast(channel, { _o: 1 });
    expect(recoveries).toEqual([
      { recovered: false, o: 0, e: "E1" },
      { recovered: true, o: 1, e: "E1" },
    ]);
    expect(log).toEqual([
      "recover joined",
      "second",
      `ok {"_recovery":{"recovered":false,"o":0,"e":"E1"}}`,
      "recover joined",
      "second",
      `ok {"_recovery":{"recovered":true,"o":1,"e":"E1"},"extra":true}`,
      "msg 1",
    ]);
    channel.offRecover(ref);
    reconnect();
    transport().reply("phx_join", "ok", recovery(false, 1, "E2"));
    expect(recoveries).toHaveLength(2);
    expect(log.slice(-2)).toEqual(["second", `ok {"_recovery":{"recovered":false,"o":1,"e":"E2"}}`]);
  });

  it("on a topic without history (no _recovery in the reply) never calls onRecover nor sends _since", () => {
    const channel = socket.channel("room:1", { user: "ada" });
    const onRecover = vi.fn();
    channel.onRecover(onRecover);
    channel.join();
    transport().reply("phx_join", "ok", { welcome: true });
    broadcast(channel, { _o: 5, _e: "E9" }); // an app's own keys of those names
    reconnect();
    transport().reply("phx_join", "ok", {});
    expect(onRecover).not.toHaveBeenCalled();
    expect(joinParams()).toEqual([{ user: "ada" }, { user: "ada" }]);
  });
});
