import type { Channel } from "phoenix";
import { describe, expect, it } from "vitest";
import { noReply, ok } from "../../server/index.js";
import { roomChannel } from "../../server/demo/room-channel.js";
import { freePort } from "../support/node-process.js";
import { perTest } from "../support/opened.js";
import { waitFor } from "../support/wait.js";
import { joined, pushed } from "../support/phoenix-channel.js";

const opened = perTest();

describe("the official phoenix client against Cinder", () => {
  it("connects with params the connect hook accepts, and is refused otherwise", async () => {
    const server = await opened.server({ connect: (params) => params.token === "ok" });
    const good = opened.phoenix(server.port, { token: "ok" });
    await waitFor(() => good.isConnected(), "accepted socket to open");
    const errors: unknown[] = [];
    const bad = opened.phoenix(server.port, { token: "no" });
    bad.onError((e) => void errors.push(e));
    await waitFor(() => errors.length > 0, "refused socket to error");
    expect(bad.isConnected()).toBe(false);
  });

  it("joins ok and sees join errors with their reason", async () => {
    const server = await opened.server();
    const socket = opened.phoenix(server.port);
    await joined(socket.channel("room:lobby", { user: "ada", presence: false }));
    await expect(joined(socket.channel("room:other", {}))).rejects.toMatchObject({ reason: expect.stringContaining("user") });
    await expect(joined(socket.channel("elsewhere:1", {}))).rejects.toEqual({ reason: "unmatched topic" });
  });

  it("pushes and gets replies, and receives server pushes and broadcasts", async () => {
    const server = await opened.server({
      channels: {
        "room:*": roomChannel,
        "clock:*": {
          join: () => ok({ hello: "there" }),
          afterJoin: (socket) => socket.push("tick", { n: 1 }),
          handleIn: (event, payload, socket, ref) => {
            if (event === "later") {
              setTimeout(() => socket.reply(ref, ok({ later: true })), 20);
              return noReply();
            }
            return ok({ echo: payload });
          },
        },
      },
    });
    const socket = opened.phoenix(server.port);
    const clock = socket.channel("clock:1", {});
    const ticks: unknown[] = [];
    clock.on("tick", (p) => void ticks.push(p));
    expect(await joined(clock)).toEqual({ hello: "there" });
    await waitFor(() => ticks.length === 1, "server push");
    expect(ticks[0]).toEqual({ n: 1 });
    expect(await pushed(clock, "echo", { a: 1 })).toEqual({ status: "ok", response: { echo: { a: 1 } } });
    expect(await pushed(clock, "later", {})).toEqual({ status: "ok", response: { later: true } });
  });

  it("broadcasts one message to many sockets", async () => {
    const server = await opened.server();
    const count = 40;
    const received: unknown[][] = [];
    const channels: Channel[] = [];
    for (let i = 0; i < count; i++) {
      const socket = opened.phoenix(server.port);
      const channel = socket.channel("room:many", { user: `u${i}`, presence: false });
      const inbox: unknown[] = [];
      received.push(inbox);
      channel.on("new_msg", (p) => void inbox.push(p));
      channels.push(channel);
    }
    await Promise.all(channels.map(joined));
    expect(await pushed(channels[0], "new_msg", { body: "to all" })).toMatchObject({ status: "ok" });
    await waitFor(() => received.every((inbox) => inbox.length === 1), "every socket to receive the broadcast");
    expect(received.every((inbox) => JSON.stringify(inbox[0]) === JSON.stringify({ user: "u0", body: "to all" }))).toBe(true);
  });

  it("leaves: the channel closes and the server terminates it", async () => {
    const reasons: string[] = [];
    const server = await opened.server({ channels: { "room:*": { ...roomChannel, terminate: (reason) => void reasons.push(reason) } } });
    const socket = opened.phoenix(server.port);
    const channel = socket.channel("room:bye", { user: "a", presence: false });
    await joined(channel);
    let closed = false;
    channel.onClose(() => {
      closed = true;
    });
    channel.leave();
    await waitFor(() => closed && reasons.length === 1, "leave to finish");
    expect(reasons).toEqual(["leave"]);
    await waitFor(() => server.health().channels === 0, "server to drop the channel");
  });

  it("heartbeats: socket.ping measures a round trip", async () => {
    const server = await opened.server();
    const socket = opened.phoenix(server.port);
    await waitFor(() => socket.isConnected(), "socket open");
    const rtt = await new Promise<number>((resolve) => socket.ping(resolve));
    expect(rtt).toBeGreaterThanOrEqual(0);
  });

  it("carries binary payloads both ways as V2 binary frames", async () => {
    const server = await opened.server({
      channels: {
        "bin:*": {
          join: () => ok(),
          handleIn: (_event, payload, socket) => {
            const bytes = new Uint8Array(payload as ArrayBuffer);
            socket.broadcast("bytes", bytes.map((b) => b + 1));
            return ok(bytes.slice().reverse().buffer);
          },
        },
      },
    });
    const socket = opened.phoenix(server.port);
    const channel = socket.channel("bin:1", {});
    const broadcasts: ArrayBuffer[] = [];
    channel.on("bytes", (p) => void broadcasts.push(p as ArrayBuffer));
    await joined(channel);
    const reply = await pushed(channel, "raw", new Uint8Array([1, 2, 3]).buffer);
    expect(reply.status).toBe("ok");
    expect([...new Uint8Array(reply.response as ArrayBuffer)]).toEqual([3, 2, 1]);
    await waitFor(() => broadcasts.length === 1, "binary broadcast");
    expect([...new Uint8Array(broadcasts[0])]).toEqual([2, 3, 4]);
  });

  it("reconnects and rejoins by itself after the server process restarts", async () => {
    const port = await freePort();
    const node = await opened.node({ port });
    const socket = opened.phoenix(port);
    const channel = socket.channel("room:phoenix", { user: "a", presence: false });
    let joins = 0;
    channel.join().receive("ok", () => joins++);
    await waitFor(() => joins === 1, "first join");
    expect(await node.stop("SIGTERM")).toBe(0);
    await waitFor(() => !socket.isConnected(), "client to see the close");
    await opened.node({ port });
    await waitFor(() => joins === 2, "rejoin after restart", 10_000);
    expect((await pushed(channel, "ping", {})).status).toBe("ok");
  });
});
