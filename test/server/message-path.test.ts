import { decode, encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import { noReply, ok, type ChannelHandler } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import type { RawClient, RawFrame } from "../support/raw-client.js";
import { httpUrl } from "../support/server.js";
import { waitFor } from "../support/wait.js";

const opened = perTest();

/** Msgpack frames a client received, decoded. */
function msgpackFrames(client: RawClient): RawFrame[] {
  return client.messages.filter((m): m is Buffer => Buffer.isBuffer(m)).map((m) => decode(m) as RawFrame);
}

const member = { user: "u", presence: false };

describe("order on one socket", () => {
  it("a broadcast queued before a socket's join never reaches it ahead of its join reply", async () => {
    // The join handler broadcasts to its own topic before answering: that broadcast is queued
    // when the socket subscribes, so it belongs to the time before the join.
    const server = await opened.server({
      channels: {
        "order:*": {
          join(topic) {
            server.broadcast(topic, "before_join", {});
            return ok();
          },
          handleIn: () => ok(),
        },
      },
    });
    // Someone already there, so the topic exists and the broadcast is really queued.
    const watcher = await opened.joinedClient(server, "order:a", member, "j");
    const client = await opened.raw(server);
    client.send(["1", "1", "order:a", "phx_join", {}]);
    await client.reply("1");
    await watcher.next((f) => f[3] === "before_join", "the watcher to get the broadcast made during the join");
    // A marker broadcast after the join: once it is in, anything earlier would be too.
    server.broadcast("order:a", "after_join", {});
    await client.next((f) => f[3] === "after_join", "the broadcast after the join");
    expect(client.frames.map((f) => f[3])).toEqual(["phx_reply", "after_join"]);
  });

  it("on shutdown, the presence diffs still being coalesced reach the sockets before they close", async () => {
    // A long coalescing window: without the fix the last diff would still be waiting when the sockets close.
    const server = await opened.server({ presenceDiffCoalesceMs: 60_000 });
    const watcher = await opened.raw(server);
    watcher.send(["1", "1", "room:bye", "phx_join", { user: "watcher" }]);
    await watcher.next((f) => f[3] === "presence_state", "the watcher's presence_state");
    const late = await opened.raw(server);
    late.send(["1", "1", "room:bye", "phx_join", { user: "late" }]);
    await late.next((f) => f[3] === "presence_state", "the late joiner's presence_state");
    await server.close();
    expect((await watcher.closed()).code).toBe(1001);
    const diffs = watcher.frames.filter((f) => f[3] === "presence_diff").map((f) => Object.keys((f[4] as { joins: object }).joins));
    expect(diffs.flat()).toContain("late");
  });
});

describe("a payload one serializer cannot encode", () => {
  it("reaches the JSON subscribers, is skipped for msgpack ones, and crashes nothing", async () => {
    // The handler adds a function: JSON leaves it out, the msgpack encoder refuses it.
    const echo: ChannelHandler = {
      join: () => ok(),
      handleIn(event, payload, socket) {
        socket.broadcast(event, { ...(payload as Record<string, unknown>), callback: () => 1 });
        return ok();
      },
    };
    const server = await opened.server({ channels: { "echo:*": echo } });
    const json = await opened.joinedClient(server, "echo:fn", member, "j");
    const msgpack = await opened.raw(server, { query: "vsn=2.0.0&serializer=msgpack" });
    msgpack.send(Buffer.from(encode(["m", "m", "echo:fn", "phx_join", {}])));
    await waitFor(() => msgpackFrames(msgpack).some((f) => f[1] === "m"), "the msgpack join reply");
    json.send(["j", "p", "echo:fn", "shout", { body: "hi" }]);
    expect((await json.reply("p"))[4]).toMatchObject({ status: "ok" });
    await json.next((f) => f[3] === "shout", "the broadcast on the JSON socket");
    server.broadcast("echo:fn", "marker", {});
    await waitFor(() => msgpackFrames(msgpack).some((f) => f[3] === "marker"), "a later broadcast on the msgpack socket");
    expect(msgpackFrames(msgpack).some((f) => f[3] === "shout")).toBe(false);
    expect(json.closeEvent).toBeNull();
    expect(msgpack.closeEvent).toBeNull();
    expect(await metricOf(server, "cinder_encode_errors_total", { serializer: "msgpack" })).toBe(1);
  });

  it("a broadcast over HTTP too deep for any encoder is refused at the door (400), not by the process", async () => {
    const server = await opened.server({ broadcastKey: "k" });
    const client = await opened.joinedClient(server, "room:http", member, "j");
    // Written by hand: JSON.stringify itself cannot go this deep.
    const payload = '{"a":'.repeat(5000) + "{}" + "}".repeat(5000);
    const body = `{"topic":"room:http","event":"deep","payload":${payload}}`;
    const response = await fetch(httpUrl(server, "/api/broadcast"), { method: "POST", headers: { authorization: "Bearer k" }, body });
    expect(response.status).toBe(400);
    server.broadcast("room:http", "marker", {});
    await client.next((f) => f[3] === "marker", "a later broadcast");
    expect(client.frames.some((f) => f[3] === "deep")).toBe(false);
  });
});

describe("errors are answered, never swallowed", () => {
  it("a join whose ok reply cannot be encoded is answered with an error reply, and the socket is not joined", async () => {
    const server = await opened.server({
      channels: { "big:*": { join: () => ok({ n: 10n as unknown as number }), handleIn: () => ok() } },
    });
    const client = await opened.raw(server);
    client.send(["1", "1", "big:a", "phx_join", {}]);
    expect((await client.reply("1"))[4]).toEqual({ status: "error", response: { reason: "reply could not be encoded" } });
    client.send(["1", "2", "big:a", "ping", {}]);
    expect((await client.reply("2"))[4]).toEqual({ status: "error", response: { reason: "unmatched topic" } });
    const health = await (await fetch(httpUrl(server, "/health"))).json();
    expect(health.channels).toBe(0);
  });

  it("a handler reply that cannot be encoded becomes an error reply", async () => {
    const server = await opened.server({ channels: { "big:*": { join: () => ok(), handleIn: () => ok({ n: 10n as unknown as number }) } } });
    const client = await opened.joinedClient(server, "big:b", member, "j");
    client.send(["j", "2", "big:b", "ping", {}]);
    expect((await client.reply("2"))[4]).toEqual({ status: "error", response: { reason: "reply could not be encoded" } });
  });
});

describe("a channel's handler backlog is bounded", () => {
  it("pushes past maxQueuedPushes are refused at once while the handler is busy, then handled again", async () => {
    const release: Array<() => void> = [];
    const slow: ChannelHandler = {
      join: () => ok(),
      handleIn: (_event, _payload, socket, ref) => {
        // Each push holds the channel until the test lets it go.
        return new Promise((resolve) => release.push(() => resolve(ok()))).then(() => {
          socket.reply(ref, ok());
          return noReply();
        });
      },
    };
    const server = await opened.server({ maxQueuedPushes: 3, channels: { "slow:*": slow } });
    const client = await opened.joinedClient(server, "slow:a", member, "j");
    // One running, three waiting, and two more that do not fit.
    for (let i = 0; i < 6; i++) client.send(["j", `p${i}`, "slow:a", "work", {}]);
    expect((await client.reply("p4"))[4]).toEqual({ status: "error", response: { reason: "too many pending pushes" } });
    expect((await client.reply("p5"))[4]).toEqual({ status: "error", response: { reason: "too many pending pushes" } });
    await waitFor(() => release.length === 1, "the first push to be running");
    for (let i = 0; i < 4; i++) {
      await waitFor(() => release.length === i + 1, `push ${i} to be running`);
      release[i]();
      expect((await client.reply(`p${i}`))[4]).toMatchObject({ status: "ok" });
    }
    expect(await metricOf(server, "cinder_pushes_refused_total")).toBe(2);
    expect(client.closeEvent).toBeNull();
  });
});
