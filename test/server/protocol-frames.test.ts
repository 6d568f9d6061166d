import { describe, expect, it } from "vitest";
import { error, ok, stop } from "../../server/index.js";
import { roomChannel } from "../../server/demo/room-channel.js";
import { perTest } from "../support/opened.js";
import { sleep } from "../support/wait.js";

const opened = perTest();

const ada = { user: "ada", presence: false };

describe("Phoenix V2 frames, exactly as on the wire", () => {
  it("answers a heartbeat with an ok reply and a null join_ref", async () => {
    const server = await opened.server();
    const client = await opened.raw(server);
    client.send([null, "1", "phoenix", "heartbeat", {}]);
    expect(await client.reply("1")).toEqual([null, "1", "phoenix", "phx_reply", { status: "ok", response: {} }]);
  });

  it("replies to a join on an unmatched topic with an error and a null join_ref", async () => {
    const server = await opened.server();
    const client = await opened.raw(server);
    client.send(["3", "3", "nowhere:1", "phx_join", {}]);
    expect(await client.reply("3")).toEqual([null, "3", "nowhere:1", "phx_reply", { status: "error", response: { reason: "unmatched topic" } }]);
  });

  it("answers a push to a topic that is not joined with unmatched topic, and a leave with ok", async () => {
    const server = await opened.server();
    const client = await opened.raw(server);
    client.send(["3", "4", "room:a", "new_msg", { body: "x" }]);
    expect((await client.reply("4"))[4]).toEqual({ status: "error", response: { reason: "unmatched topic" } });
    client.send(["3", "5", "room:a", "phx_leave", {}]);
    expect((await client.reply("5"))[4]).toEqual({ status: "ok", response: {} });
  });

  it("joins, pushes, leaves and closes with the refs Phoenix uses", async () => {
    const server = await opened.server();
    const client = await opened.raw(server);
    expect(await client.join("room:a", ada, "3")).toEqual(["3", "3", "room:a", "phx_reply", { status: "ok", response: {} }]);
    client.send(["3", "4", "room:a", "ping", {}]);
    expect(await client.reply("4")).toEqual(["3", "4", "room:a", "phx_reply", { status: "ok", response: {} }]);
    client.send(["3", "5", "room:a", "phx_leave", {}]);
    expect(await client.reply("5")).toEqual(["3", "5", "room:a", "phx_reply", { status: "ok", response: {} }]);
    expect(await client.next((f) => f[3] === "phx_close")).toEqual(["3", "3", "room:a", "phx_close", {}]);
  });

  it("broadcasts as [null, null, topic, event, payload] to every member, the sender included", async () => {
    const server = await opened.server();
    const a = await opened.raw(server);
    const b = await opened.raw(server);
    await a.join("room:x", ada, "1");
    await b.join("room:x", ada, "1");
    a.send(["1", "2", "room:x", "new_msg", { body: "hello" }]);
    const expected = [null, null, "room:x", "new_msg", { user: "ada", body: "hello" }];
    expect(await a.next((f) => f[3] === "new_msg")).toEqual(expected);
    expect(await b.next((f) => f[3] === "new_msg")).toEqual(expected);
    // The broadcast was produced before the reply, so it arrives first.
    const order = a.frames.map((f) => f[3]);
    expect(order.indexOf("new_msg")).toBeLessThan(order.lastIndexOf("phx_reply"));
  });

  it("closes the old channel on a duplicate join: both joins ok, then phx_close for the old join_ref", async () => {
    const terminated: string[] = [];
    const server = await opened.server({
      channels: { "room:*": { ...roomChannel, terminate: (reason) => void terminated.push(reason) } },
    });
    const client = await opened.raw(server);
    await client.join("room:d", ada, "1");
    expect((await client.join("room:d", ada, "2"))[4]).toEqual({ status: "ok", response: {} });
    expect(await client.next((f) => f[3] === "phx_close")).toEqual(["1", "1", "room:d", "phx_close", {}]);
    expect(terminated).toEqual(["duplicate_join"]);
    expect(server.health().channels).toBe(1);
  });

  it("drops a message that carries a stale join_ref", async () => {
    const server = await opened.server();
    const client = await opened.raw(server);
    await client.join("room:s", ada, "1");
    await client.join("room:s", ada, "2");
    client.send(["1", "3", "room:s", "ping", {}]);
    client.send(["2", "4", "room:s", "ping", {}]);
    await client.reply("4");
    expect(client.frames.some((f) => f[1] === "3")).toBe(false);
  });

  it("refuses joins past maxChannelsPerSocket", async () => {
    const server = await opened.server({ maxChannelsPerSocket: 2 });
    const client = await opened.raw(server);
    await client.join("room:1", ada, "1");
    await client.join("room:2", ada, "2");
    expect((await client.join("room:3", ada, "3"))[4]).toEqual({ status: "error", response: { reason: "too many channels joined" } });
  });

  it("turns a throwing handleIn into phx_error for that channel only", async () => {
    const server = await opened.server({
      channels: {
        "room:*": roomChannel,
        "boom:*": {
          join: () => ok(),
          handleIn: () => {
            throw new Error("handler bug");
          },
        },
      },
    });
    const client = await opened.raw(server);
    await client.join("room:ok", ada, "1");
    await client.join("boom:1", {}, "2");
    client.send(["2", "3", "boom:1", "anything", {}]);
    expect(await client.next((f) => f[3] === "phx_error")).toEqual(["2", "2", "boom:1", "phx_error", { reason: "channel_crash" }]);
    client.send(["1", "4", "room:ok", "ping", {}]);
    expect((await client.reply("4"))[4]).toEqual({ status: "ok", response: {} });
    // The crashed channel is gone: a push to it is now an unmatched topic.
    client.send(["2", "5", "boom:1", "anything", {}]);
    expect((await client.reply("5"))[4]).toEqual({ status: "error", response: { reason: "unmatched topic" } });
  });

  it("answers a join that throws with {reason: 'join crashed'}", async () => {
    const server = await opened.server({
      channels: {
        "bad:*": {
          join: async () => {
            throw new Error("db down");
          },
        },
      },
    });
    const client = await opened.raw(server);
    expect((await client.join("bad:1", {}, "1"))[4]).toEqual({ status: "error", response: { reason: "join crashed" } });
  });

  it("replies, then closes the channel, when handleIn returns stop()", async () => {
    const server = await opened.server({
      channels: { "s:*": { join: () => ok(), handleIn: () => stop("done", error({ why: "bye" })) } },
    });
    const client = await opened.raw(server);
    await client.join("s:1", {}, "1");
    client.send(["1", "2", "s:1", "quit", {}]);
    expect(await client.reply("2")).toEqual(["1", "2", "s:1", "phx_reply", { status: "error", response: { why: "bye" } }]);
    expect(await client.next((f) => f[3] === "phx_close")).toEqual(["1", "1", "s:1", "phx_close", {}]);
  });

  it("runs the calls of one channel in order even when handlers are async", async () => {
    const seen: number[] = [];
    const server = await opened.server({
      channels: {
        "q:*": {
          join: () => ok(),
          handleIn: async (_event, payload) => {
            const n = (payload as { n: number }).n;
            await sleep(n % 2 === 0 ? 20 : 1);
            seen.push(n);
            return ok({ n });
          },
        },
      },
    });
    const client = await opened.raw(server);
    await client.join("q:1", {}, "1");
    for (let n = 0; n < 6; n++) client.send(["1", `r${n}`, "q:1", "work", { n }]);
    await client.reply("r5");
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("delivers intercepted broadcasts through handleOut, per subscriber", async () => {
    const server = await opened.server({
      channels: {
        "i:*": {
          join: (_t, params, socket) => {
            socket.assigns.name = params.name;
            return ok();
          },
          intercept: ["secret"],
          handleOut(event, payload, socket) {
            if (socket.assigns.name !== "eve") socket.push(event, { ...(payload as object), to: socket.assigns.name });
          },
        },
      },
    });
    const alice = await opened.raw(server);
    const eve = await opened.raw(server);
    await alice.join("i:1", { name: "alice" }, "1");
    await eve.join("i:1", { name: "eve" }, "1");
    server.broadcast("i:1", "secret", { v: 1 });
    server.broadcast("i:1", "public", { v: 2 });
    expect(await alice.next((f) => f[3] === "secret")).toEqual(["1", null, "i:1", "secret", { v: 1, to: "alice" }]);
    await eve.next((f) => f[3] === "public");
    expect(eve.frames.some((f) => f[3] === "secret")).toBe(false);
  });
});
