import { describe, expect, it } from "vitest";
import { msgpackSerializer } from "../../client/codec/msgpack.js";
import type { Frame } from "../../client/codec/frame.js";
import { ok, type ChannelHandler, type CinderServer } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import type { RawClient } from "../support/raw-client.js";
import { waitFor } from "../support/wait.js";
import { BODY, broadcastUntil, history, longPollSubscriber, of, settings, tcp, turn } from "../support/behind.js";

// "Behind, not gone" where the plain path does not go: LongPoll under its default outbox cap,
// broadcasts from another worker, msgpack subscribers, a channel that intercepts, and a member
// both waiting for a presence_state and behind.
const opened = perTest();

const fellBehind = (source: { port: number } | CinderServer) => metricOf(source, "cinder_subscribers_fell_behind_total", { kind: "history" });
const caughtUp = (source: { port: number } | CinderServer) => metricOf(source, "cinder_subscribers_caught_up_total", { kind: "history" });

/** Broadcasts until the slow reader fell behind, 200 more while it is, then lets it read and broadcasts until it is caught up, then 20 more; returns how many. */
async function behindAndBack(server: CinderServer, topic: string, slow: () => void): Promise<number> {
  let sent = await broadcastUntil(server, topic, 0, (i) => ({ i, body: BODY }), async () => (await fellBehind(server)) >= 1, "the slow reader to fall behind");
  for (const end = sent + 200; sent < end; sent++) server.broadcast(topic, "msg", { i: sent, body: BODY });
  slow();
  sent = await broadcastUntil(server, topic, sent, (i) => ({ i, body: BODY }), async () => (await caughtUp(server)) >= 1, "the slow reader to be caught up");
  for (const end = sent + 20; sent < end; sent++) server.broadcast(topic, "msg", { i: sent, body: BODY });
  return sent;
}

const upTo = (n: number) => [...Array(n).keys()];

describe("a LongPoll session behind", () => {
  it("falls behind under the default outbox cap (1 MiB) instead of ending, broadcasts going flat out", async () => {
    const server = await opened.server({ behindBytes: settings.behindBytes, channels: { "h:*": history(100_000) } });
    const { frames, pollOnce } = await longPollSubscriber(server.port, "h:lp");
    // It stops polling; a broadcaster goes flat out, 128 KiB a turn.
    const overflows = () => metricOf(server, "cinder_longpoll_overflows_total");
    let sent = await broadcastUntil(server, "h:lp", 0, (i) => ({ i, body: BODY }), async () => (await fellBehind(server)) >= 1 || (await overflows()) >= 1, "the session to fall behind or end");
    expect(await overflows()).toBe(0);
    for (const end = sent + 100; sent < end; sent++) server.broadcast("h:lp", "msg", { i: sent, body: BODY });
    await waitFor(async () => (await pollOnce(), (await caughtUp(server)) >= 1), "the session to be caught up", 30_000);
    for (const end = sent + 10; sent < end; sent++) server.broadcast("h:lp", "msg", { i: sent, body: BODY });
    const msgs = () => frames.filter((f) => f[3] === "msg").map((f) => f[4] as Record<string, unknown>);
    await waitFor(async () => (await pollOnce(), msgs().some((p) => p.i === sent - 1)), "the last broadcast", 30_000);
    expect(msgs().map((p) => p.i)).toEqual(upTo(sent));
    expect(await overflows()).toBe(0);
  }, 60_000);

  it("falls behind instead of ending when twice its outbox cap is broadcast in turns that follow each other at once", async () => {
    // Looked at only every 100 ms, a subscriber took the turns' frames into its outbox before
    // anyone looked again, and was ended at the cap; it is looked at again after every behindBytes.
    const server = await opened.server({ behindBytes: settings.behindBytes, channels: { "h:*": history(100_000) } });
    const { frames, pollOnce } = await longPollSubscriber(server.port, "h:burst");
    const overflows = () => metricOf(server, "cinder_longpoll_overflows_total");
    const total = (2 * 1024 * 1024) / BODY.length;
    for (let i = 0; i < total; ) {
      for (const end = i + 16; i < end; i++) server.broadcast("h:burst", "msg", { i, body: BODY });
      await turn();
    }
    await waitFor(async () => (await fellBehind(server)) >= 1 || (await overflows()) >= 1, "the session to fall behind or end", 30_000);
    expect(await overflows()).toBe(0);
    await waitFor(async () => (await pollOnce(), (await caughtUp(server)) >= 1), "the session to be caught up", 30_000);
    const msgs = () => frames.filter((f) => f[3] === "msg").map((f) => (f[4] as { i: number }).i);
    await waitFor(async () => (await pollOnce(), msgs().at(-1) === total - 1), "the last broadcast", 30_000);
    expect(msgs()).toEqual(upTo(total));
  }, 60_000);
});

describe("a subscriber behind on a node with two workers", () => {
  it("is caught up in order when the topic's broadcasts come from the other worker too", async () => {
    const env = { BEHIND_BYTES: String(settings.behindBytes), MAX_BUFFERED_BYTES: String(settings.maxBufferedBytes), MAX_FRAMES_PER_SECOND: "0", MAX_JOINS_PER_SECOND: "0", MAX_INBOUND_BYTES_PER_SECOND: "0", MAX_QUEUED_PUSHES: "100000" };
    const node = await opened.node({ workers: 2, app: "history-app.mjs", env });
    const topic = "room:behind";
    // Several publishers: the kernel spreads their sockets over both workers.
    const publishers = await Promise.all([1, 2, 3, 4].map((n) => opened.joinedClient(node, topic, { user: `p${n}`, presence: false }, "1")));
    const slow = await opened.joinedClient(node, topic, { user: "slow", presence: false });
    const body = "x".repeat(3900);
    let sent = 0;
    const push = (count: number) => {
      for (const end = sent + count; sent < end; sent++) publishers[sent % 4].send(["1", `m${sent}`, topic, "new_msg", { body: `${sent}:${body}` }]);
    };
    const offsetsOf = (client: RawClient) => of(client, "new_msg").map((p) => p._o as number);
    tcp(slow).pause();
    await waitFor(async () => (push(32), await turn(), (await fellBehind(node)) >= 1), "the slow reader to fall behind", 30_000);
    push(200);
    tcp(slow).resume();
    await waitFor(async () => (push(8), await turn(), (await caughtUp(node)) >= 1), "the slow reader to be caught up", 30_000);
    push(20);
    // Every push is stored and numbered 1…sent, in one sequence for both workers.
    await waitFor(() => offsetsOf(publishers[0]).length === sent, "the publishers to see every message", 30_000);
    await waitFor(() => offsetsOf(slow).at(-1) === sent, "the slow reader to get the last message", 30_000);
    expect(offsetsOf(slow)).toEqual(upTo(sent).map((i) => i + 1));
    expect(of(slow, "history_gap")).toEqual([]);
  }, 90_000);
});

describe("a msgpack subscriber behind on a history topic", () => {
  it("is caught up in msgpack, in order, with nothing lost and nothing twice", async () => {
    const server = await opened.server({ ...settings, channels: { "h:*": history(100_000) } });
    const slow = await opened.raw(server, { query: "vsn=2.0.0&serializer=msgpack" });
    const decoded = (): Frame[] => slow.messages.filter((m): m is Buffer => Buffer.isBuffer(m)).map((m) => msgpackSerializer.decode(new Uint8Array(m), "toClient"));
    slow.send(Buffer.from(msgpackSerializer.encode({ joinRef: "1", ref: "1", topic: "h:mp", event: "phx_join", payload: {} }, "toServer").data as Uint8Array));
    await waitFor(() => decoded().some((f) => f.event === "phx_reply"), "the join reply");
    tcp(slow).pause();
    const sent = await behindAndBack(server, "h:mp", () => tcp(slow).resume());
    const msgs = () => decoded().filter((f) => f.event === "msg").map((f) => f.payload as Record<string, unknown>);
    await waitFor(() => msgs().some((p) => p.i === sent - 1), "the last broadcast", 30_000);
    expect(msgs().map((p) => p.i)).toEqual(upTo(sent));
    expect(msgs().map((p) => p._o)).toEqual(upTo(sent).map((i) => i + 1));
    expect(slow.frames).toEqual([]); // nothing came as JSON text
  }, 60_000);
});

describe("a subscriber behind on a history topic whose channel intercepts", () => {
  it("gets what it missed through handleOut, as live", async () => {
    const intercepting: ChannelHandler = {
      ...history(100_000),
      intercept: ["msg"],
      handleOut(event, payload, socket) {
        const { i } = payload as { i: number };
        // Drops every tenth, marks the rest: the catch-up must do the same.
        if (i % 10 !== 9) socket.push(event, { ...(payload as Record<string, unknown>), out: socket.topic });
      },
    };
    const server = await opened.server({ ...settings, channels: { "h:*": intercepting } });
    const slow = await opened.joinedClient(server, "h:io");
    tcp(slow).pause();
    const sent = await behindAndBack(server, "h:io", () => tcp(slow).resume());
    const last = upTo(sent).filter((i) => i % 10 !== 9).at(-1);
    await waitFor(() => of(slow, "msg").some((p) => p.i === last), "the last broadcast", 30_000);
    expect(of(slow, "msg").map((p) => p.i)).toEqual(upTo(sent).filter((i) => i % 10 !== 9));
    expect(of(slow, "msg").every((p) => p.out === "h:io")).toBe(true);
  }, 60_000);
});

describe("a member both waiting for a presence_state and behind", () => {
  it("is not counted in cinder_deliveries_total for the broadcasts it does not get live", async () => {
    const tracked: ChannelHandler = {
      ...history(100_000),
      join: (_topic, params, socket) => ((socket.assigns.user = String(params.user)), ok()),
      afterJoin(socket) {
        socket.pushPresenceState();
        socket.track(String(socket.assigns.user), {});
      },
    };
    const server = await opened.server({ ...settings, presenceResyncBytes: 64 * 1024, channels: { "h:*": tracked } });
    const fast = await opened.joinedClient(server, "h:pq", { user: "fast" });
    const slow = await opened.joinedClient(server, "h:pq", { user: "slow" });
    await slow.next((f) => f[3] === "presence_state", "the slow member's presence_state");
    tcp(slow).pause();
    const sent = await broadcastUntil(server, "h:pq", 0, (i) => ({ i, body: BODY }), async () => (await fellBehind(server)) >= 1, "the slow member to fall behind");
    // Another member: its diff finds the slow member past presenceResyncBytes, which then waits for a fresh presence_state (quiet).
    await opened.joinedClient(server, "h:pq", { user: "third" });
    await waitFor(async () => (await metricOf(server, "cinder_presence_fell_behind_total")) >= 1, "the slow member to wait for a presence_state");
    await waitFor(() => of(fast, "msg").some((p) => p.i === sent - 1), "the fast member to have every broadcast so far");
    const before = await metricOf(server, "cinder_deliveries_total");
    for (let i = sent; i < sent + 10; i++) server.broadcast("h:pq", "msg", { i, body: "small" });
    await waitFor(() => of(fast, "msg").some((p) => p.i === sent + 9), "the ten broadcasts");
    // Ten broadcasts reached two members live (fast and third); the slow one gets them from history later.
    expect((await metricOf(server, "cinder_deliveries_total")) - before).toBe(20);
  }, 60_000);
});
