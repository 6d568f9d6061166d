/**
 * The client SDK against a real Cinder server (loopback), over both wire formats: channels,
 * pushes and replies, broadcasts, binary payloads, heartbeats, presence, reconnect after a
 * server restart, and a scripted scenario compared callback-for-callback with phoenix.js.
 */
import * as phoenix from "phoenix";
import { describe, expect, it } from "vitest";
import { Presence, Socket, type ClientSerializer, type Message, type SocketOptions, type TransportCloseEvent } from "../../client/index.js";
import { msgpackSerializer } from "../../client/msgpack.js";
import type { CreateServerOptions } from "../../server/index.js";
import { roomChannel } from "../../server/demo/room-channel.js";
import { freePort } from "../support/node-process.js";
import { perTest } from "../support/opened.js";
import { waitFor } from "../support/wait.js";
import { bytesOf, cinderSocket, echoChannel, joined, outcome, serializers, wsTransport } from "./support.js";

const opened = perTest();
/** The channels of these tests: the demo room and the echo channel. */
const CHANNELS: CreateServerOptions = { channels: { "room:*": roomChannel, "echo:*": echoChannel } };
const connect = (port: number, serializer: ClientSerializer | undefined, options: SocketOptions = {}) => opened.socket(cinderSocket(port, { serializer, ...options }));

describe.each(serializers)("our client against the server, %s serializer", (name, serializer) => {
  describe("channels, pushes and replies", () => {
    it("joins ok with its params, and an error join gets the server's reason", async () => {
      const server = await opened.server(CHANNELS);
      const socket = connect(server.port, serializer);
      const echo = socket.channel("echo:params", { user: "ada", n: 7, nested: { list: [1, "two"] } });
      expect(await joined(echo)).toEqual({ topic: "echo:params", params: { user: "ada", n: 7, nested: { list: [1, "two"] } } });
      expect(echo.state).toBe("joined");

      const room = socket.channel("room:params", { user: "ada", presence: false });
      expect(await joined(room)).toEqual({});

      const nameless = socket.channel("room:refused", {});
      const refused = await outcome(nameless.join());
      expect(refused.status).toBe("error");
      expect(refused.response).toEqual({ reason: expect.stringContaining("user") });
      expect(nameless.state).toBe("errored");
      nameless.leave(); // it would keep retrying the join otherwise

      const unmatched = socket.channel("nowhere:1", { user: "ada" });
      expect(await outcome(unmatched.join())).toEqual({ status: "error", response: { reason: "unmatched topic" } });
      unmatched.leave();
    });

    it("hands params and authToken (any text, sent base64url in the subprotocol) to the connect hook", async () => {
      const seen: { params: Record<string, string>; authToken?: string }[] = [];
      const server = await opened.server({
        ...CHANNELS,
        connect: (params, info) => {
          seen.push({ params: { ...params }, authToken: info.authToken });
          return true;
        },
      });
      // "+" and "/" in plain base64, and characters btoa alone would refuse.
      const token = "ünïcødé ✓ >>>???";
      const socket = connect(server.port, serializer, { params: { token: "t1" }, authToken: () => token });
      await waitFor(() => socket.isConnected(), "socket to open");
      const expectedParams: Record<string, string> = { token: "t1", vsn: "2.0.0" };
      if (name === "msgpack") expectedParams.serializer = "msgpack";
      expect(seen).toEqual([{ params: expectedParams, authToken: token }]);
    });

    it("gets ok and error replies to pushes, and a timeout when the server never replies", async () => {
      const server = await opened.server(CHANNELS);
      const socket = connect(server.port, serializer);
      const room = socket.channel("room:push", { user: "ada", presence: false });
      await joined(room);
      expect(await outcome(room.push("ping", {}))).toEqual({ status: "ok", response: {} });
      expect(await outcome(room.push("nope", {}))).toEqual({ status: "error", response: { reason: "unknown event nope" } });
      expect(await outcome(room.push("new_msg", { body: "" }))).toEqual({
        status: "error",
        response: { reason: "body must be a non-empty string" },
      });

      const echo = socket.channel("echo:push", {});
      await joined(echo);
      expect(await outcome(echo.push("echo", { a: [1, { b: null }], s: "héllo ✓" }))).toEqual({
        status: "ok",
        response: { echo: { a: [1, { b: null }], s: "héllo ✓" } },
      });
      expect(await outcome(echo.push("silent", {}, 150))).toEqual({ status: "timeout", response: {} });
      // The channel is still usable after a timed-out push.
      expect(echo.state).toBe("joined");
      expect(await outcome(echo.push("echo", { after: "timeout" }))).toEqual({ status: "ok", response: { echo: { after: "timeout" } } });
    });

    it("delivers a broadcast to every socket in the room", async () => {
      const server = await opened.server(CHANNELS);
      const inboxes: unknown[][] = [[], []];
      const channels = inboxes.map((inbox, i) => {
        const channel = connect(server.port, serializer).channel("room:bcast", { user: `u${i}`, presence: false });
        channel.on("new_msg", (payload) => inbox.push(payload));
        return channel;
      });
      await Promise.all(channels.map(joined));
      expect(await outcome(channels[0].push("new_msg", { body: "to all" }))).toEqual({ status: "ok", response: {} });
      await waitFor(() => inboxes.every((inbox) => inbox.length > 0), "both sockets to get the broadcast");
      for (const inbox of inboxes) expect(inbox).toEqual([{ user: "u0", body: "to all" }]);
    });

    /** Two sockets on `echo:bin`: one pushes bytes, the other hears the broadcast. */
    async function binaryPair(port: number) {
      const sender = connect(port, serializer).channel("echo:bin", {});
      const listener = connect(port, serializer).channel("echo:bin", {});
      const heard: unknown[] = [];
      listener.on("bytes", (payload) => heard.push(payload));
      await Promise.all([joined(sender), joined(listener)]);
      return { sender, heard };
    }
    // JSON V2 hands bytes over as an ArrayBuffer (as phoenix.js does); msgpack as a Uint8Array.
    const bytesType = name === "json" ? ArrayBuffer : Uint8Array;

    it("round-trips Uint8Array payloads, sending only the bytes a view covers", async () => {
      const server = await opened.server(CHANNELS);
      const { sender, heard } = await binaryPair(server.port);
      const view = new Uint8Array([9, 9, 10, 20, 250, 9]).subarray(2, 5);
      const reply = await outcome(sender.push("bytes", view));
      expect(reply.status).toBe("ok");
      expect(reply.response).toBeInstanceOf(bytesType);
      expect(bytesOf(reply.response)).toEqual([250, 20, 10]);
      await waitFor(() => heard.length === 1, "binary broadcast");
      expect(heard[0]).toBeInstanceOf(bytesType);
      expect(bytesOf(heard[0])).toEqual([11, 21, 251]);
    });

    it("sends an ArrayBuffer push payload as bytes", async () => {
      const server = await opened.server(CHANNELS);
      const { sender, heard } = await binaryPair(server.port);
      const reply = await outcome(sender.push("bytes", new Uint8Array([1, 2, 3, 250]).buffer));
      expect(reply.status).toBe("ok");
      expect(bytesOf(reply.response)).toEqual([250, 3, 2, 1]);
      await waitFor(() => heard.length === 1, "binary broadcast");
      expect(bytesOf(heard[0])).toEqual([2, 3, 4, 251]);
    });

    it("receives bytes a server handler replies and broadcasts as ArrayBuffers", async () => {
      const server = await opened.server(CHANNELS);
      const { sender, heard } = await binaryPair(server.port);
      const reply = await outcome(sender.push("buffer", new Uint8Array([1, 2, 3, 250])));
      expect(reply.status).toBe("ok");
      expect(reply.response).toBeInstanceOf(bytesType);
      expect(bytesOf(reply.response)).toEqual([250, 3, 2, 1]);
      await waitFor(() => heard.length === 1, "binary broadcast");
      expect(heard[0]).toBeInstanceOf(bytesType);
      expect(bytesOf(heard[0])).toEqual([2, 3, 4, 251]);
    });

    it("socket.ping reports a round-trip latency, and refuses when not connected", async () => {
      const server = await opened.server(CHANNELS);
      const socket = connect(server.port, serializer);
      await waitFor(() => socket.isConnected(), "socket to open");
      let latency: number | undefined;
      expect(socket.ping((ms) => (latency = ms))).toBe(true);
      await waitFor(() => latency !== undefined, "ping reply");
      expect(Number.isFinite(latency)).toBe(true);
      expect(latency).toBeGreaterThanOrEqual(0);

      await new Promise<void>((resolve) => socket.disconnect(resolve));
      expect(socket.ping(() => expect.unreachable("a ping of a closed socket must not be answered"))).toBe(false);
    });

    it("onMessage sees every decoded message: join reply, push reply, broadcast, heartbeat reply", async () => {
      const server = await opened.server(CHANNELS);
      const socket = connect(server.port, serializer);
      const messages: Message[] = [];
      socket.onMessage((message) => messages.push(message));
      const room = socket.channel("room:msgs", { user: "ada", presence: false });
      await joined(room);
      const joinRef = room.joinRef();
      expect(messages).toEqual([
        { topic: "room:msgs", event: "phx_reply", ref: joinRef, join_ref: joinRef, payload: { status: "ok", response: {} } },
      ]);

      const push = room.push("new_msg", { body: "hi" });
      await outcome(push);
      await waitFor(() => messages.some((m) => m.event === "new_msg"), "the broadcast");
      expect(messages.slice(1)).toEqual(
        expect.arrayContaining([
          { topic: "room:msgs", event: "phx_reply", ref: push.ref, join_ref: joinRef, payload: { status: "ok", response: {} } },
          { topic: "room:msgs", event: "new_msg", ref: null, join_ref: null, payload: { user: "ada", body: "hi" } },
        ]),
      );
      expect(messages).toHaveLength(3);

      let pinged = false;
      socket.ping(() => (pinged = true));
      await waitFor(() => pinged, "ping reply");
      expect(messages[3]).toMatchObject({ topic: "phoenix", event: "phx_reply", payload: { status: "ok", response: {} } });
    });
  });

  describe("presence", () => {
    /** One of our clients in a room, with its Presence. */
    function member(port: number, room: string, user: string) {
      const socket = connect(port, serializer);
      const channel = socket.channel(room, { user });
      const presence = new Presence(channel);
      let syncs = 0;
      presence.onSync(() => syncs++);
      const users = () =>
        presence
          .list((key, p) => `${key}×${p.metas.length}`)
          .sort()
          .join(",");
      return { socket, channel, presence, users, syncs: () => syncs, joined: joined(channel) };
    }

    it("each client's Presence lists everyone; a second socket of a user adds a meta; a disconnect drops it", async () => {
      const server = await opened.server(CHANNELS);
      const ada = member(server.port, "room:presence", "ada");
      await ada.joined;
      await waitFor(() => ada.users() === "ada×1", "ada to see herself");
      const bob = member(server.port, "room:presence", "bob");
      await bob.joined;
      await waitFor(() => ada.users() === "ada×1,bob×1" && bob.users() === "ada×1,bob×1", "both to see both");
      expect(ada.syncs()).toBeGreaterThan(0);
      expect(bob.syncs()).toBeGreaterThan(0);

      const adaTab2 = member(server.port, "room:presence", "ada");
      await adaTab2.joined;
      const twoTabs = "ada×2,bob×1";
      await waitFor(() => [ada, bob, adaTab2].every((m) => m.users() === twoTabs), "the second socket to add a meta everywhere");
      const adaMetas = bob.presence.list((key, p) => (key === "ada" ? p.metas : [])).flat();
      expect(new Set(adaMetas.map((m) => m.phx_ref)).size).toBe(2);

      adaTab2.socket.disconnect();
      await waitFor(() => ada.users() === "ada×1,bob×1" && bob.users() === "ada×1,bob×1", "the closed socket's meta to go", 10_000);

      bob.socket.disconnect();
      await waitFor(() => ada.users() === "ada×1", "bob to drop from ada's list", 10_000);
    });
  });

  describe("server restart", () => {
    it("reconnects, rejoins by itself, delivers pushes buffered during the outage, and shows presence again", async () => {
      const port = await freePort();
      const first = await opened.node({ port });

      const socket = connect(port, serializer, { timeout: 20_000 });
      let opens = 0;
      const closes: TransportCloseEvent[] = [];
      let errors = 0;
      socket.onOpen(() => opens++);
      socket.onClose((event) => closes.push(event));
      socket.onError(() => errors++);

      const channel = socket.channel("room:restart", { user: "ada" });
      const presence = new Presence(channel);
      let joinOks = 0;
      let presenceStates = 0;
      const chat: unknown[] = [];
      const channelErrors: unknown[] = [];
      channel.on("presence_state", () => presenceStates++);
      channel.on("new_msg", (payload) => chat.push(payload));
      channel.onError((reason) => channelErrors.push(reason));
      const adaRefs = () => presence.list((key, p) => (key === "ada" ? p.metas.map((m) => m.phx_ref) : [])).flat();
      channel.join().receive("ok", () => joinOks++);
      await waitFor(() => joinOks === 1, "first join");
      const firstJoinRef = channel.joinRef();
      await waitFor(() => presence.list().length === 1 && adaRefs().length === 1, "ada present before the restart");
      const firstPhxRef = adaRefs()[0];
      expect(opens).toBe(1);
      expect(closes).toHaveLength(0);

      await first.stop("SIGKILL");
      await waitFor(() => closes.length > 0 && channel.state === "errored", "the client to see the connection drop");
      expect(closes[0].code).toBe(1006);
      expect(channelErrors[0]).toEqual({ source: "transport", reason: "connection_closed" });
      expect(socket.isConnected()).toBe(false);
      // Reconnect tries against the dead port fail with errors.
      await waitFor(() => errors > 0, "a failed reconnect to report an error");
      expect(opens).toBe(1);

      const ping = outcome(channel.push("ping", {}));
      const message = outcome(channel.push("new_msg", { body: "sent while down" }));
      expect(channel.pushBuffer).toHaveLength(2);

      await opened.node({ port });
      await waitFor(() => opens === 2, "the socket to reconnect", 10_000);
      await waitFor(() => channel.state === "joined" && joinOks === 2, "the channel to rejoin", 10_000);
      expect(channel.joinRef()).not.toBe(firstJoinRef);

      expect(await ping).toEqual({ status: "ok", response: {} });
      expect(await message).toEqual({ status: "ok", response: {} });
      await waitFor(() => chat.length === 1, "the buffered message's broadcast");
      // The demo room keeps history: a broadcast carries its offset, the first of the new node's
      // epoch, and that epoch.
      expect(chat).toEqual([{ user: "ada", body: "sent while down", _o: 1, _e: expect.any(String) }]);
      expect(channel.pushBuffer).toHaveLength(0);

      await waitFor(() => presenceStates === 2, "a fresh presence_state after the rejoin");
      await waitFor(() => adaRefs().length === 1 && adaRefs()[0] !== firstPhxRef, "ada present again, tracked by the new node");
      expect(presence.list().map((p) => p.metas.length)).toEqual([1]);
      expect(opens).toBe(2);
    });
  });
});

describe("both serializers in one room", () => {
  it("a broadcast from a msgpack socket reaches a JSON socket and the other way round", async () => {
    const server = await opened.server(CHANNELS);
    const json = connect(server.port, undefined).channel("room:mixed", { user: "j", presence: false });
    const packed = connect(server.port, msgpackSerializer).channel("room:mixed", { user: "m", presence: false });
    const heard = { json: [] as unknown[], packed: [] as unknown[] };
    json.on("new_msg", (p) => heard.json.push(p));
    packed.on("new_msg", (p) => heard.packed.push(p));
    await Promise.all([joined(json), joined(packed)]);
    await outcome(packed.push("new_msg", { body: "from msgpack" }));
    await waitFor(() => heard.json.length === 1 && heard.packed.length === 1, "msgpack broadcast everywhere");
    await outcome(json.push("new_msg", { body: "from json" }));
    await waitFor(() => heard.json.length === 2 && heard.packed.length === 2, "json broadcast everywhere");
    const expected = [
      { user: "m", body: "from msgpack" },
      { user: "j", body: "from json" },
    ];
    expect(heard).toEqual({ json: expected, packed: expected });
  });
});

type SocketClass = typeof Socket;
const implementations: [string, SocketClass][] = [
  ["phoenix", phoenix.Socket as unknown as SocketClass],
  ["cinder", Socket],
];

describe.each(serializers)("parity with phoenix.js, %s serializer", (name, serializer) => {
  /**
   * Each client gets the serializer its own way: ours by `serializer`, phoenix.js by
   * `encode`/`decode` plus the `serializer` query param ours adds by itself.
   */
  function optionsFor(impl: string): SocketOptions {
    const params = { token: "t0k en&=", room: "parity" };
    if (!serializer) return { params };
    if (impl === "cinder") return { params, serializer };
    return { params: { ...params, serializer: serializer.name }, encode: serializer.encode, decode: serializer.decode };
  }

  /** The scripted scenario: what every callback saw, in order. */
  async function scenario(impl: string, SocketImpl: SocketClass, port: number) {
    const log: unknown[] = [];
    const opts: SocketOptions = { transport: wsTransport, reconnectAfterMs: () => 50, rejoinAfterMs: () => 50, timeout: 5000, ...optionsFor(impl) };
    const socket = opened.socket(new SocketImpl(`ws://127.0.0.1:${port}/socket`, opts));
    const url = socket.endPointURL();
    let closed = 0;
    socket.onOpen(() => log.push(["socket open", socket.isConnected()]));
    socket.onClose((event) => {
      closed++;
      log.push(["socket close", event.code, event.wasClean]);
    });
    socket.onError(() => log.push(["socket error"]));
    socket.onMessage((m) => log.push(["message", m.topic, m.event, m.ref, m.join_ref, m.payload]));
    log.push(["socket created", socket.connectionState()]);
    socket.connect();
    await waitFor(() => socket.isConnected(), `${impl} socket to open`);

    const channel = socket.channel("room:parity", { user: "ada", presence: false });
    let channelClosed = false;
    channel.onError((reason) => log.push(["channel error", reason, channel.state]));
    channel.onClose((payload) => {
      channelClosed = true;
      log.push(["channel close", payload, channel.state]);
    });
    channel.on("new_msg", (payload, ref, joinRef) => log.push(["new_msg", payload, ref, joinRef, channel.state]));
    log.push(["channel created", channel.state]);
    const join = channel.join();
    log.push(["join sent", channel.state]);
    log.push(["join", await outcome(join), channel.state, channel.joinRef()]);
    log.push(["ping", await outcome(channel.push("ping", { n: 1 }))]);
    log.push(["unknown", await outcome(channel.push("nope", {}))]);
    log.push(["empty body", await outcome(channel.push("new_msg", { body: "" }))]);

    // Another socket (same implementation) broadcasts into the room.
    const other = opened.socket(new SocketImpl(`ws://127.0.0.1:${port}/socket`, opts));
    other.connect();
    const otherChannel = other.channel("room:parity", { user: "bob", presence: false });
    expect((await outcome(otherChannel.join())).status).toBe("ok");
    expect(await outcome(otherChannel.push("new_msg", { body: "hello from bob" }))).toEqual({ status: "ok", response: {} });
    await waitFor(() => log.some((entry) => (entry as unknown[])[0] === "new_msg"), `${impl} to get the broadcast`);

    const leave = channel.leave();
    log.push(["leave sent", channel.state]);
    log.push(["leave", await outcome(leave), channel.state]);
    await waitFor(() => channelClosed, `${impl} channel to close`);

    await new Promise<void>((resolve) => socket.disconnect(() => resolve()));
    log.push(["disconnected", socket.connectionState()]);
    await waitFor(() => closed > 0, `${impl} socket close callback`);
    other.disconnect();
    return { log, url };
  }

  it("one scripted scenario gives the same callbacks, payloads, states and URL with both clients", async () => {
    const seen: Record<string, unknown>[] = [];
    const server = await opened.server({
      ...CHANNELS,
      connect: (params, info) => {
        seen.push({ ...params, serializer: info.serializer });
        return true;
      },
    });
    const runs: Record<string, Awaited<ReturnType<typeof scenario>>> = {};
    for (const [impl, SocketImpl] of implementations) runs[impl] = await scenario(impl, SocketImpl, server.port);

    expect(runs.cinder.log).toEqual(runs.phoenix.log);
    // The scenario really ran: spot-check what both saw.
    expect(runs.cinder.log).toEqual(
      expect.arrayContaining([
        ["join", { status: "ok", response: {} }, "joined", expect.any(String)],
        ["ping", { status: "ok", response: {} }],
        ["unknown", { status: "error", response: { reason: "unknown event nope" } }],
        ["new_msg", { user: "bob", body: "hello from bob" }, null, expect.any(String), "joined"],
        ["channel close", "leave", "closed"],
        ["disconnected", "closed"],
      ]),
    );
    expect(runs.cinder.log.filter((e) => (e as unknown[])[0] === "socket close")).toHaveLength(1);

    const base = `ws://127.0.0.1:${server.port}/socket/websocket`;
    if (name === "json") {
      // Same options, byte-for-byte the same URL.
      expect(runs.cinder.url).toBe(runs.phoenix.url);
      expect(runs.cinder.url).toBe(`${base}?token=t0k%20en%26%3D&room=parity&vsn=2.0.0`);
    } else {
      // phoenix.js needs `serializer` among its params, so it comes before vsn; ours appends it after.
      const query = (url: string) => [...new URL(url).searchParams].sort();
      expect(query(runs.cinder.url)).toEqual(query(runs.phoenix.url));
      expect(runs.cinder.url).toBe(`${base}?token=t0k%20en%26%3D&room=parity&vsn=2.0.0&serializer=msgpack`);
    }
    // The server saw the same connect params from both (two sockets per run).
    expect(seen).toHaveLength(4);
    expect(seen[2]).toEqual(seen[0]);
    expect(seen[0]).toEqual({ token: "t0k en&=", room: "parity", vsn: "2.0.0", serializer: name });
  });
});
