import { beforeAll, describe, expect, it } from "vitest";
import { ok, StoreError, type ChannelHandler } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perFile, perTest } from "../support/opened.js";
import type { RawClient, RawFrame } from "../support/raw-client.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";

// server.broadcastStored / socket.broadcastStored in one process: in memory (no Redis), and
// against a real redis-server that the test stalls (SIGSTOP) and kills.
const opened = perTest();

const HISTORY = { size: 100, ttlMs: 60_000 };

/** Each push is broadcast to the others and kept; the reply says where it stands. */
const storing: ChannelHandler = {
  history: HISTORY,
  join: () => ok(),
  async handleIn(event, payload, socket) {
    return ok({ ...(await socket.broadcastFromStored(event, payload as Record<string, unknown>)) });
  },
};
const live: ChannelHandler = { join: () => ok() };


/** The payloads of `event` a client got (their `_o` included; other history fields left out). */
const received = (client: RawClient, event: string) =>
  client.frames.filter((f: RawFrame) => f[3] === event).map((f) => {
    const { _e, ...payload } = f[4] as Record<string, unknown>;
    return payload;
  });


describe("stored broadcasts on a node without Redis", () => {
  it("resolve with the offset and epoch the message was kept under, after delivering it", async () => {
    const server = await opened.server({ channels: { "h:*": storing, "live:*": live } });
    const a = await opened.joinedClient(server, "h:1", {}, "j");
    const b = await opened.joinedClient(server, "h:1", {}, "j");
    const first = await server.broadcastStored("h:1", "note", { n: 1 });
    const second = await server.broadcastStored("h:1", "note", { n: 2 });
    expect(first).toEqual({ offset: 1, epoch: expect.any(String) });
    expect(second).toEqual({ offset: 2, epoch: first.epoch });
    await waitFor(() => received(b, "note").length === 2, "both notes");
    expect(received(b, "note")).toEqual([{ n: 1, _o: 1 }, { n: 2, _o: 2 }]);

    // From a handler, to everyone but the pusher, answered with its place.
    a.send(["j", "p", "h:1", "said", { text: "hi" }]);
    expect((await a.reply("p"))[4]).toEqual({ status: "ok", response: { offset: 3, epoch: first.epoch } });
    await waitFor(() => received(b, "said").length === 1, "the pushed message");
    expect(received(b, "said")).toEqual([{ text: "hi", _o: 3 }]);
    expect(received(a, "said")).toEqual([]);
    expect((await server.history("h:1")).messages.map((m) => m.offset)).toEqual([1, 2, 3]);
  });

  it("reject with a TypeError what can never be kept: a topic without history, a byte payload, a reserved topic", async () => {
    const server = await opened.server({ channels: { "h:*": storing, "live:*": live } });
    await expect(server.broadcastStored("live:1", "e", {})).rejects.toThrow(/keeps no history/);
    await expect(server.broadcastStored("h:1", "e", new Uint8Array([1]) as never)).rejects.toThrow(TypeError);
    await expect(server.broadcastStored("cinder:disconnect", "e", {})).rejects.toThrow(/reserved/);
    // A channel without history pushing through broadcastStored: its handler gets the TypeError (a crash).
    server.channel("misused:*", { ...storing, history: undefined });
    const client = await opened.joinedClient(server, "misused:1", {}, "j");
    client.send(["j", "p", "misused:1", "said", {}]);
    expect((await client.next((f) => f[3] === "phx_error"))[4]).toEqual({ reason: "channel_crash" });
  });
});

describe("stored broadcasts through Redis", () => {
  const file = perFile();
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await file.redis();
  });

  it("wait at most historyStoreTimeoutMs, refuse past historyMaxPendingStores, and count both", async () => {
    const server = await opened.server({ channels: { "h:*": storing }, redisUrl: redis.url, historyStoreTimeoutMs: 300, historyMaxPendingStores: 1 });
    await waitFor(() => server.health().status === "ok", "the node to connect to Redis");
    redis.pause();
    let stalled: Promise<unknown>;
    try {
      stalled = server.broadcastStored("h:stall", "e", { n: 1 }).catch((err: unknown) => err);
      const refused = await server.broadcastStored("h:stall", "e", { n: 2 }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(StoreError);
      expect(refused).toMatchObject({ reason: "overloaded", maybeStored: false });
      const timedOut = await stalled;
      expect(timedOut).toMatchObject({ reason: "timeout", maybeStored: true });
      // Still waiting on Redis: its place stays taken, so the bound holds what is really held.
      expect(await metricOf(server, "cinder_history_stores_pending", { on: "redis" })).toBe(1);
    } finally {
      redis.resume();
    }
    await waitFor(async () => (await metricOf(server, "cinder_history_stores_pending", { on: "redis" })) === 0, "the stalled store to be answered");
    // The one that timed out was kept after all (a timeout says so: maybeStored); the next follows it.
    expect(await server.broadcastStored("h:stall", "e", { n: 3 })).toMatchObject({ offset: 2 });
    expect(await metricOf(server, "cinder_history_stores_failed_total", { reason: "overloaded" })).toBe(1);
    expect(await metricOf(server, "cinder_history_stores_failed_total", { reason: "timeout" })).toBe(1);
  });

  it("reject as failed when Redis answers the append with an error, and keep nothing", async () => {
    const server = await opened.server({ channels: { "h:*": storing }, redisUrl: redis.url });
    await waitFor(() => server.health().status === "ok", "the node to connect to Redis");
    const outside = opened.observer(redis);
    // A topic whose sequence is not a number: the script's INCR fails, before it writes anything.
    await outside.mset("cinder:h:{h:broken}:epoch", "e1", "cinder:h:{h:broken}:seq", "not a number");
    const err = await server.broadcastStored("h:broken", "e", { n: 1 }).catch((error: unknown) => error);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ reason: "failed", maybeStored: false });
    expect(await outside.exists("cinder:h:{h:broken}:s")).toBe(0);
    expect(await metricOf(server, "cinder_history_stores_failed_total", { reason: "failed" })).toBe(1);
  });

  it("reject as unavailable while Redis is down, and the fire-and-forget broadcast never leaves a rejection unhandled", async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", record);
    try {
      const server = await opened.server({ channels: { "h:*": storing }, redisUrl: redis.url });
      await waitFor(() => server.health().status === "ok", "the node to connect to Redis");
      await redis.stop();
      server.broadcast("h:down", "e", { n: 1 }); // may still find the connection open
      await waitFor(() => server.health().status === "degraded", "the node to notice the outage");
      server.broadcast("h:down", "e", { n: 2 });
      await expect(server.broadcastStored("h:down", "e", { n: 3 })).rejects.toMatchObject({ reason: "unavailable" });
      expect(await metricOf(server, "cinder_history_stores_failed_total", { reason: "unavailable" })).toBe(1);
      await waitFor(() => (server.health().redis?.dropped ?? 0) >= 3, "the three broadcasts to be counted as dropped");
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", record);
      await redis.restart();
    }
  });
});
