/**
 * Clients recovering over real servers: cinder/client by itself, and the official phoenix.js
 * client with the recipe of docs/history-and-recovery.md (a join params function adding `_since`, an `onMessage` hook
 * recording `_o`, the join reply's `_recovery`). A subscriber of 1,000 broadcasts has its
 * connection cut at about 300 and is back at about 700; it reconnects and rejoins by itself and
 * must get all 1,000 exactly once, in order. Once on one in-process node (memory), once across
 * two node processes sharing a Redis (published on A, received on B). A client that lived
 * through an epoch change (the history started again while it stayed connected) recovers on its
 * next reconnect. And what a client is told when recovery is not possible. No sleeps: every step
 * waits for something it can see.
 */
import type { Redis } from "ioredis";
import * as phoenix from "phoenix";
import { beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Socket, type Channel, type Recovery, type TransportConstructor } from "../../client/index.js";
import type { CinderServer } from "../../server/index.js";
import { roomChannel } from "../../server/demo/room-channel.js";
import { outcome } from "../client/support.js";
import { freePort, type NodeProcess } from "../support/node-process.js";
import { perFile, perTest } from "../support/opened.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";

const TOPIC = "room:thousand";
const JOIN = { user: "subscriber", presence: false };

/**
 * Decides where a client's (re)connects go: while `away`, to a path the server answers with a
 * 404, so the client's own reconnect loop keeps failing until it is let back; then to its URL.
 */
class Gate {
  away = false;

  /** The `ws` WebSocket, through the gate. */
  transport(): TransportConstructor {
    const gate = this;
    return class GatedWebSocket extends WebSocket {
      constructor(url: string, protocols?: string[]) {
        super(gate.away ? url.replace("/socket/websocket", "/away/websocket") : url, protocols);
      }
    };
  }
}

/** What a subscriber got: each `new_msg` (offset and body) and each join's `_recovery`; and how to cut its connection. */
interface Subscriber {
  messages: Array<{ o: number; body: string }>;
  recoveries: Recovery[];
  /** Drops the connection as a network failure would (no close handshake): the client reconnects by itself. */
  cut(): void;
}

const messageOf = (payload: unknown) => {
  const { _o, body } = payload as { _o: number; body: string };
  return { o: _o, body };
};
const lastOffset = (subscriber: Subscriber) => subscriber.messages.at(-1)?.o ?? 0;
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

const opened = perTest();

/** A cinder/client subscriber to `topic` on `url` (reconnecting through `gate`), as docs/history-and-recovery.md shows it. */
function cinderSubscriber(url: string, gate: Gate, topic = TOPIC): Subscriber & { channel: Channel; reloads: number } {
  const socket = opened.socket(new Socket(url, { transport: gate.transport() }));
  socket.connect();
  const subscriber = {
    messages: [] as Subscriber["messages"],
    recoveries: [] as Recovery[],
    reloads: 0,
    cut: () => (socket.conn as WebSocket).terminate(),
  };
  const render = (payload: unknown) => {
    subscriber.messages.push(messageOf(payload));
  };
  const reloadState = () => subscriber.reloads++;
  const params = JOIN;

  // ── the docs sample (with types) ──
  const channel = socket.channel(topic, params);
  channel.on("new_msg", (payload) => render(payload)); // payload._o is the message's offset
  channel.onRecover(({ recovered }) => {
    if (!recovered) reloadState(); // the first join, or more was missed than the server replays
  });
  channel.join();
  // ── end of the sample ──

  channel.onRecover((recovery) => subscriber.recoveries.push(recovery));
  return Object.assign(subscriber, { channel });
}

/** A phoenix.js subscriber to `topic` on `url`, recovering with the docs recipe. */
function phoenixSubscriber(url: string, gate: Gate, topic = TOPIC): Subscriber & { reloads: number } {
  const socket = opened.socket(new phoenix.Socket(url, { transport: gate.transport() as unknown as typeof globalThis.WebSocket }));
  socket.connect();
  const subscriber = {
    messages: [] as Subscriber["messages"],
    recoveries: [] as Recovery[],
    reloads: 0,
    cut: () => (socket as unknown as { conn: WebSocket }).conn.terminate(),
  };
  const render = (payload: unknown) => {
    subscriber.messages.push(messageOf(payload));
  };
  const reloadState = () => subscriber.reloads++;
  const params = JOIN;

  // ── the docs recipe (with types) ──
  let last: { o: number; e: string } | null = null; // the last offset received, and its epoch
  const channel = socket.channel(topic, () => (last ? { ...params, _since: last } : params));
  channel.onMessage = (_event: string, payload: { _o?: unknown; _e?: string } | null) => {
    if (last && typeof payload?._o === "number") last = { o: payload._o, e: payload._e ?? last.e };
    return payload;
  };
  channel.on("new_msg", (payload) => render(payload));
  channel.join().receive("ok", ({ _recovery: r }: { _recovery?: Recovery }) => {
    if (r && !r.recovered) {
      last = { o: r.o, e: r.e };
      reloadState();
    }
  });
  // ── end of the recipe ──

  channel.on("phx_reply", (reply: { response?: { _recovery?: Recovery } }) => {
    if (reply.response?._recovery) subscriber.recoveries.push(reply.response._recovery);
  });
  return subscriber;
}

/**
 * The scenario: `publish(first, last)` broadcasts `new_msg {body: "m<i>"}` for i in first..last
 * and resolves once the server took them. The subscriber is cut once it got about 300 and let
 * back once 700 were published.
 */
async function thousandWithACut(subscriber: Subscriber, gate: Gate, publish: (first: number, last: number) => Promise<void>): Promise<void> {
  await waitFor(() => subscriber.recoveries.length === 1, "the subscriber to join", 10_000);
  const epoch = subscriber.recoveries[0].e;
  await publish(1, 300);
  await waitFor(() => lastOffset(subscriber) >= 250, "the subscriber to be receiving");
  gate.away = true;
  subscriber.cut();
  const atCut = lastOffset(subscriber);
  await publish(301, 700);
  gate.away = false;
  await waitFor(() => subscriber.recoveries.length === 2, "the subscriber to be back", 15_000);
  expect(subscriber.recoveries[1]).toMatchObject({ recovered: true, e: epoch });
  // It did miss messages, which the replay brought.
  expect(subscriber.recoveries[1].o).toBeGreaterThan(atCut);
  await publish(701, 1000);
  await waitFor(() => lastOffset(subscriber) === 1000, "the last message", 15_000);
  expect(subscriber.messages.map((m) => m.o)).toEqual(oneTo(1000));
  expect(subscriber.messages.map((m) => m.body)).toEqual(oneTo(1000).map((i) => `m${i}`));
  expect(subscriber.recoveries).toHaveLength(2);
}

/** The in-process node's history: the demo room keeping 2,000 and recovering up to 1,000. */
const RECOVERING = { channels: { "room:*": { ...roomChannel, history: { size: 2000, ttlMs: 300_000 } } }, historyMaxRecover: 1000 };

const urlOf = (port: number) => `ws://127.0.0.1:${port}/socket`;

/** Broadcasts from the server itself. */
const broadcasts = (server: CinderServer) => async (first: number, last: number) => {
  for (let i = first; i <= last; i++) server.broadcast(TOPIC, "new_msg", { body: `m${i}` });
};

describe("recovery over one in-process node (history in memory)", () => {
  it("cinder/client: cut at about 300 of 1,000, back at about 700, gets all 1,000 once, in order; onRecover says recovered", async () => {
    const server = await opened.server(RECOVERING);
    const gate = new Gate();
    const subscriber = cinderSubscriber(urlOf(server.port), gate);
    await thousandWithACut(subscriber, gate, broadcasts(server));
    expect(subscriber.recoveries[0]).toMatchObject({ recovered: false, o: 0 });
    expect(subscriber.channel.position).toMatchObject({ o: 1000, e: subscriber.recoveries[0].e });
    expect(subscriber.reloads).toBe(1); // on the first join only: the rejoin recovered
  });

  it("phoenix.js with the docs recipe: the same, all 1,000 once, in order", async () => {
    const server = await opened.server(RECOVERING);
    const gate = new Gate();
    const subscriber = phoenixSubscriber(urlOf(server.port), gate);
    await thousandWithACut(subscriber, gate, broadcasts(server));
    // The state was loaded on the first join only: the rejoin recovered.
    expect(subscriber.reloads).toBe(1);
  });
});

describe("recovery not possible", () => {
  /** Joins, receives `before` broadcasts, is cut, misses `missed` of them, and is let back. */
  async function cutAndBack(server: CinderServer, before: number, missed: number) {
    const gate = new Gate();
    const subscriber = cinderSubscriber(urlOf(server.port), gate);
    await waitFor(() => subscriber.recoveries.length === 1, "the subscriber to join");
    await broadcasts(server)(1, before);
    await waitFor(() => lastOffset(subscriber) === before, "the first messages");
    gate.away = true;
    subscriber.cut();
    await broadcasts(server)(before + 1, before + missed);
    gate.away = false;
    await waitFor(() => subscriber.recoveries.length === 2, "the subscriber to be back", 10_000);
    return subscriber;
  }

  it("a gap longer than historyMaxRecover: recovered false at the topic's offset, nothing replayed, live from there", async () => {
    const server = await opened.server({ ...RECOVERING, historyMaxRecover: 100 });
    const subscriber = await cutAndBack(server, 10, 150);
    expect(subscriber.recoveries[1]).toEqual({ recovered: false, o: 160, e: subscriber.recoveries[0].e });
    // A replay would come before anything live: the live message being next shows there was none.
    server.broadcast(TOPIC, "new_msg", { body: "live" });
    await waitFor(() => subscriber.messages.at(-1)?.body === "live", "the live message");
    expect(subscriber.messages.map((m) => m.o)).toEqual([...oneTo(10), 161]);
    expect(subscriber.channel.position).toMatchObject({ o: 161, e: subscriber.recoveries[0].e });
    expect(subscriber.reloads).toBe(2);
  });

  it("a gap of exactly historyMaxRecover is still recovered", async () => {
    const server = await opened.server({ ...RECOVERING, historyMaxRecover: 100 });
    const subscriber = await cutAndBack(server, 10, 100);
    expect(subscriber.recoveries[1]).toEqual({ recovered: true, o: 110, e: subscriber.recoveries[0].e });
    await waitFor(() => lastOffset(subscriber) === 110, "the replay");
    expect(subscriber.messages.map((m) => m.o)).toEqual(oneTo(110));
  });

  it("another epoch (the node restarted, its memory history is gone): recovered false, nothing replayed", async () => {
    const port = await freePort();
    const first = await opened.server({ ...RECOVERING, port });
    const gate = new Gate();
    const subscriber = cinderSubscriber(urlOf(port), gate);
    await waitFor(() => subscriber.recoveries.length === 1, "the subscriber to join");
    await broadcasts(first)(1, 5);
    await waitFor(() => lastOffset(subscriber) === 5, "the first messages");
    await first.close();
    const second = await opened.server({ ...RECOVERING, port });
    await waitFor(() => subscriber.recoveries.length === 2, "the subscriber to be back", 10_000);
    const [before, after] = subscriber.recoveries;
    expect(after).toMatchObject({ recovered: false, o: 0 });
    expect(after.e).not.toBe(before.e);
    second.broadcast(TOPIC, "new_msg", { body: "live" });
    await waitFor(() => subscriber.messages.at(-1)?.body === "live", "the live message");
    expect(subscriber.messages.map((m) => m.o)).toEqual([1, 2, 3, 4, 5, 1]);
  });
});

describe("recovery across two nodes sharing a Redis (history in Redis Streams)", () => {
  // The nodes of test/history/cluster.test.ts: room:* keeps 2,000, recovers up to 1,000; B runs two workers.
  const file = perFile();
  let redis: RedisServer;
  let outside: Redis;
  let nodes: NodeProcess[] = [];

  beforeAll(async () => {
    redis = await file.redis();
    outside = file.observer(redis);
    const start = (name: string, workers: number) => file.node({ name, workers, redis, app: "history-app.mjs", env: { HISTORY_MAX_RECOVER: "1000" } });
    nodes = await Promise.all([start("A", 1), start("B", 2)]);
  }, 60_000);

  /** A cinder/client publisher on `node`: `publish(first, last, prefix)` pushes `new_msg {body: "<prefix><i>"}` to `topic` and waits for the replies. */
  async function publisherOn(node: NodeProcess, topic: string): Promise<(first: number, last: number, prefix?: string) => Promise<void>> {
    const publisherSocket = opened.socket(new Socket(urlOf(node.port), { transport: WebSocket }));
    publisherSocket.connect();
    // Publish once first, and see it come back, so the nodes' Redis scripts are loaded. On a
    // Redis that has not seen them yet, each EVALSHA that fails with NOSCRIPT retries as EVAL on
    // its own, and later broadcasts overtake it: a burst's first ones can be stored out of order.
    // That is the server's to fix; this test is about the client.
    const warmUp = publisherSocket.channel("room:warm-up", { user: "publisher", presence: false });
    const echoed: unknown[] = [];
    warmUp.on("new_msg", (payload) => void echoed.push(payload));
    expect((await outcome(warmUp.join())).status).toBe("ok");
    warmUp.push("new_msg", { body: "warm" });
    await waitFor(() => echoed.length === 1, "the warm-up broadcast");
    const publisher = publisherSocket.channel(topic, { user: "publisher", presence: false });
    expect((await outcome(publisher.join())).status).toBe("ok");
    return async (first, last, prefix = "m") => {
      const pushes = [];
      for (let i = first; i <= last; i++) pushes.push(outcome(publisher.push("new_msg", { body: `${prefix}${i}` })));
      expect(new Set((await Promise.all(pushes)).map((reply) => reply.status))).toEqual(new Set(["ok"]));
    };
  }

  it("cinder/client on B, 1,000 published on A, cut at about 300 and back at about 700: all 1,000 once, in order", async () => {
    const [A, B] = nodes;
    const publish = await publisherOn(A, TOPIC);
    const gate = new Gate();
    await thousandWithACut(cinderSubscriber(urlOf(B.port), gate), gate, publish);
  });

  it("cinder/client and phoenix.js (the docs recipe) that lived through an epoch change (Redis flushed) recover on their next reconnect", async () => {
    const [A, B] = nodes;
    const topic = "room:epochs";
    const publish = await publisherOn(A, topic);
    const gates = [new Gate(), new Gate()];
    const both = [cinderSubscriber(urlOf(B.port), gates[0], topic), phoenixSubscriber(urlOf(B.port), gates[1], topic)];
    await waitFor(() => both.every((subscriber) => subscriber.recoveries.length === 1), "both to join", 10_000);
    const firstEpoch = both[0].recoveries[0].e;
    await publish(1, 5, "old");
    await waitFor(() => both.every((subscriber) => lastOffset(subscriber) === 5), "the first epoch's five");
    // The history is lost (Redis flushed) while both stay connected: it starts again, in a new epoch.
    await outside.flushall();
    await publish(1, 5, "new");
    await waitFor(() => both.every((subscriber) => subscriber.messages.length === 10), "the new epoch's first five, live");
    for (const [i, subscriber] of both.entries()) {
      gates[i].away = true;
      subscriber.cut();
    }
    await publish(6, 8, "new");
    await waitFor(async () => (await outside.xlen(`cinder:h:{${topic}}:s`)) === 8, "Redis to store the three missed");
    for (const gate of gates) gate.away = false;
    await waitFor(() => both.every((subscriber) => subscriber.recoveries.length === 2), "both to be back", 15_000);
    for (const subscriber of both) {
      expect(subscriber.recoveries[1]).toMatchObject({ recovered: true, o: 8 });
      expect(subscriber.recoveries[1].e).not.toBe(firstEpoch);
    }
    await waitFor(() => both.every((subscriber) => subscriber.messages.length === 13), "the three missed");
    for (const subscriber of both) {
      expect(subscriber.messages).toEqual([...oneTo(5).map((o) => ({ o, body: `old${o}` })), ...oneTo(8).map((o) => ({ o, body: `new${o}` }))]);
      expect(subscriber.reloads).toBe(1); // on the first join only
    }
  });
});
