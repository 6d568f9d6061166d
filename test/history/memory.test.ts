import { describe, expect, it } from "vitest";
import { MemoryFrameStore } from "../../server/history/frame-store-memory.js";
import { createServer, ok, type CinderServer, type ChannelHandler } from "../../server/index.js";
import { perTest } from "../support/opened.js";
import type { RawFrame } from "../support/raw-client.js";
import { httpUrl } from "../support/server.js";
import { waitFor } from "../support/wait.js";
import { joinWithRecovery, offsets as offsetsOf, type Since } from "./support.js";

const opened = perTest();

const echo: ChannelHandler = {
  history: { size: 100, ttlMs: 60_000 },
  join: () => ok(),
  handleIn(event, payload, socket) {
    socket.broadcast(event, payload);
    return ok();
  },
};

const join = (server: CinderServer, topic: string, since?: Since) => joinWithRecovery(opened, server, topic, since, {});
const offsets = (client: Parameters<typeof offsetsOf>[0]) => offsetsOf(client, "msg");

describe("history on one node (in memory)", () => {
  it("numbers broadcasts, and replays what a rejoining client missed after its reply, then live", async () => {
    const server = await opened.server({ channels: { "h:*": echo } });
    const first = await join(server, "h:1");
    expect(first.recovery).toMatchObject({ recovered: false, o: 0 });
    for (let i = 1; i <= 5; i++) server.broadcast("h:1", "msg", { i });
    await waitFor(() => offsets(first.client).length === 5, "five broadcasts");
    expect(offsets(first.client)).toEqual([1, 2, 3, 4, 5]);
    // Each carries the epoch its offset belongs to: the one the join reply gave.
    const epochs = first.client.frames.filter((f: RawFrame) => f[3] === "msg").map((f) => (f[4] as { _e: string })._e);
    expect(epochs).toEqual(Array(5).fill(first.recovery.e));

    const again = await join(server, "h:1", { o: 2, e: first.recovery.e });
    expect(again.recovery).toEqual({ recovered: true, o: 5, e: first.recovery.e });
    server.broadcast("h:1", "msg", { i: 6 });
    await waitFor(() => offsets(again.client).length === 4, "the missed three and the live one");
    expect(offsets(again.client)).toEqual([3, 4, 5, 6]);
    expect(again.client.frames.map((f) => f[3])).toEqual(["phx_reply", "msg", "msg", "msg", "msg"]);
  });

  it("does not recover from another epoch, a gap past historyMaxRecover, or an offset ahead of the topic", async () => {
    const server = await opened.server({ channels: { "h:*": echo }, historyMaxRecover: 3 });
    const { recovery } = await join(server, "h:2");
    for (let i = 1; i <= 6; i++) server.broadcast("h:2", "msg", { i });
    expect((await join(server, "h:2", { o: 1, e: "other-epoch" })).recovery).toMatchObject({ recovered: false, o: 6 });
    expect((await join(server, "h:2", { o: 1, e: recovery.e })).recovery).toMatchObject({ recovered: false, o: 6 });
    expect((await join(server, "h:2", { o: 9, e: recovery.e })).recovery).toMatchObject({ recovered: false, o: 6 });
    const close = await join(server, "h:2", { o: 3, e: recovery.e });
    expect(close.recovery).toMatchObject({ recovered: true, o: 6 });
    await waitFor(() => offsets(close.client).length === 3, "the three missed");
  });

  it("answers a malformed _since with a clear error and stays up", async () => {
    const server = await opened.server({ channels: { "h:*": echo } });
    const client = await opened.raw(server);
    for (const [i, bad] of [{ o: -1, e: "x" }, { o: "1", e: "x" }, { o: 1 }, [1, "x"], "since", { o: 2 ** 60, e: "x" }].entries()) {
      client.send(["j", `b${i}`, "h:3", "phx_join", { _since: bad }]);
      expect((await client.reply(`b${i}`))[4]).toMatchObject({ status: "error", response: { reason: expect.stringContaining("_since") } });
    }
    client.send(["j", "ok", "h:3", "phx_join", {}]);
    expect((await client.reply("ok"))[4]).toMatchObject({ status: "ok" });
  });

  it("reads a page of history from the server and over HTTP", async () => {
    const server = await opened.server({ channels: { "h:*": echo }, broadcastKey: "k" });
    for (let i = 1; i <= 4; i++) server.broadcast("h:4", "msg", { i });
    const page = await server.history("h:4", { since: 1, limit: 2 });
    expect(page.top).toBe(4);
    expect(page.messages).toEqual([
      { offset: 2, event: "msg", payload: { i: 2 } },
      { offset: 3, event: "msg", payload: { i: 3 } },
    ]);
    const response = await fetch(httpUrl(server, "/api/history?topic=h:4&since=3"), { headers: { authorization: "Bearer k" } });
    expect(await response.json()).toMatchObject({ top: 4, messages: [{ offset: 4, event: "msg", payload: { i: 4 } }] });
    expect((await fetch(httpUrl(server, "/api/history?topic=h:4"))).status).toBe(401);
    expect((await fetch(httpUrl(server, "/api/history?topic=nohistory:1"), { headers: { authorization: "Bearer k" } })).status).toBe(400);
  });
});

describe("a topic's history in memory", () => {
  it("is dropped ttlMs after its last message: the channel's ttlMs is milliseconds", () => {
    let now = 1_000_000;
    const history = new MemoryFrameStore({ maxBytes: 1 << 20, now: () => now });
    const limits = { size: 10, ttlMs: 5000 };
    const { epoch } = history.append({ topic: "h:t", event: "msg", payload: "{}", limits });
    now += 5000;
    expect(history.read("h:t", 0, 10, limits)).toMatchObject({ epoch, top: 1 });
    now += 1;
    history.append({ topic: "h:other", event: "msg", payload: "{}", limits });
    expect(history.read("h:t", 0, 10, limits).top).toBe(0);
  });

  it("refuses the old history.ttl (seconds) with a line naming ttlMs", () => {
    const old = { join: () => ok(), history: { size: 10, ttl: 60 } } as unknown as ChannelHandler;
    expect(() => createServer({ logLevel: "silent", channels: { "h:*": old } })).toThrow('channel "h:*": history.ttl (seconds) is now history.ttlMs, in milliseconds');
  });
});
