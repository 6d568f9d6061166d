import { Presence } from "phoenix";
import { describe, expect, it } from "vitest";
import type { CreateServerOptions } from "../../server/index.js";
import { ok, signPhoenixToken } from "../../server/index.js";
import { roomChannel } from "../../server/demo/room-channel.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { waitFor } from "../support/wait.js";
import { collect, joined, longPollSocket, pushed } from "./support.js";
import { frame, openSession, poll, pollUntil, post } from "./raw-longpoll.js";

const opened = perTest();

/** A channel answering a push with what it received: the byte count of a binary payload, or the payload; `echo_bytes` broadcasts bytes. */
const bytesChannel = {
  join: () => ok(),
  handleIn(event: string, payload: unknown, socket: { broadcast(event: string, payload: object | ArrayBuffer): void }) {
    if (event === "echo_bytes") {
      socket.broadcast("bytes", new Uint8Array([1, 2, 3]).buffer);
      socket.broadcast("text", { after: "bytes" });
      return ok();
    }
    if (payload instanceof ArrayBuffer || payload instanceof Uint8Array) return ok({ bytes: payload.byteLength, first: new Uint8Array(payload)[0] });
    return ok({ got: payload as Record<string, unknown> });
  },
};

/** The channels of these tests: the demo room and `bytes:*`. */
const CHANNELS: CreateServerOptions = { channels: { "room:*": roomChannel, "bytes:*": bytesChannel as never } };

describe("phoenix.js's LongPoll transport against Cinder", () => {
  it("joins, pushes and gets replies, and shares broadcasts and presence with a WebSocket client both ways", async () => {
    const server = await opened.server(CHANNELS);
    const lp = opened.socket(longPollSocket(server.port));
    const ws = opened.phoenix(server.port);
    const lpRoom = lp.channel("room:mixed", { user: "lp" });
    const wsRoom = ws.channel("room:mixed", { user: "ws" });
    const lpPresence = new Presence(lpRoom);
    const wsPresence = new Presence(wsRoom);
    const lpMessages = collect<{ user: string; body: string }>(lpRoom, "new_msg");
    const wsMessages = collect<{ user: string; body: string }>(wsRoom, "new_msg");
    await joined(wsRoom);
    await joined(lpRoom);
    expect(await waitFor(() => metricOf(server, "cinder_longpoll_sessions"), "the session gauge")).toBe(1);

    const users = (presence: Presence) => presence.list((key) => key).sort().join(",");
    await waitFor(() => users(lpPresence) === "lp,ws" && users(wsPresence) === "lp,ws", "both presences on both sides");

    expect(await pushed(lpRoom, "ping", {})).toEqual({ status: "ok", response: {} });
    expect(await pushed(lpRoom, "new_msg", { body: "from longpoll" })).toEqual({ status: "ok", response: {} });
    expect(await pushed(wsRoom, "new_msg", { body: "from websocket" })).toEqual({ status: "ok", response: {} });
    await waitFor(() => lpMessages.length === 2 && wsMessages.length === 2, "both messages on both sides");
    expect(lpMessages).toEqual([{ user: "lp", body: "from longpoll" }, { user: "ws", body: "from websocket" }]);
    expect(wsMessages).toEqual(lpMessages);

    // A broadcast from the server code reaches both transports.
    server.broadcast("room:mixed", "new_msg", { user: "server", body: "hello" });
    await waitFor(() => lpMessages.length === 3 && wsMessages.length === 3, "the server's broadcast");

    // Leaving ends the membership: the WebSocket client sees the presence leave.
    await new Promise((resolve) => lpRoom.leave().receive("ok", resolve));
    await waitFor(() => users(wsPresence) === "ws", "the longpoll presence to leave");
  });

  it("hands a binary push up to the channel; byte payloads down are skipped and counted, text after them still arrives", async () => {
    const server = await opened.server(CHANNELS);
    const lp = opened.socket(longPollSocket(server.port));
    const channel = lp.channel("bytes:1", {});
    await joined(channel);
    const bytes = new Uint8Array([7, 8, 9, 10]).buffer;
    expect(await pushed(channel, "blob", bytes)).toEqual({ status: "ok", response: { bytes: 4, first: 7 } });
    expect(await pushed(channel, "json", { a: 1 })).toEqual({ status: "ok", response: { got: { a: 1 } } });

    const got = collect(channel, "bytes");
    const text = collect(channel, "text");
    await pushed(channel, "echo_bytes", {});
    await waitFor(() => text.length === 1, "the text broadcast after the bytes");
    expect(got).toEqual([]);
    expect(await metricOf(server, "cinder_longpoll_binary_skipped_total")).toBe(1);
  });

  it("gives the connect hook the query params, the auth token header and the transport's headers; a refused connect does not open", async () => {
    const seen: Array<{ params: Record<string, string>; authToken: string | undefined }> = [];
    const server = await opened.server({
      ...CHANNELS,
      connect: (params, info) => {
        seen.push({ params: { ...params }, authToken: info.authToken });
        return params.token === "good" ? { assigns: { who: "ada" } } : false;
      },
    });
    // phoenix.js 1.8 puts the app's params and its session token in the same query: `token` here is the app's.
    const accepted = opened.socket(longPollSocket(server.port, { params: { token: "good" }, authToken: "secret-auth" }));
    await joined(accepted.channel("room:hook", { user: "ada", presence: false }));
    expect(seen[0]).toEqual({ params: { token: "good", vsn: "2.0.0" }, authToken: "secret-auth" });

    const refused = opened.socket(longPollSocket(server.port, { params: { token: "bad" } }));
    const errors: unknown[] = [];
    refused.onError((error) => void errors.push(error));
    await waitFor(() => errors.length > 0, "the refused socket to error");
    expect(refused.isConnected()).toBe(false);
    expect(await metricOf(server, "cinder_connects_rejected_total", { reason: "connect" })).toBeGreaterThan(0);
  });

  it("ends a session that stops polling after 1.5 windows: its presence leaves the others' lists", async () => {
    const server = await opened.server({ ...CHANNELS, longPollWindowMs: 300 });
    const ws = opened.phoenix(server.port);
    const wsRoom = ws.channel("room:idle", { user: "watcher" });
    const wsPresence = new Presence(wsRoom);
    await joined(wsRoom);
    // A client that joins, then goes away without a word (a closed laptop): its polls stop.
    const token = await openSession(server.port);
    expect((await post(server.port, token, frame("1", "1", "room:idle", "phx_join", { user: "sleeper" }))).body).toEqual({ status: 200 });
    await pollUntil(server.port, token, (message) => message[1] === "1" && message[3] === "phx_reply");
    const users = () => wsPresence.list((key) => key).sort().join(",");
    await waitFor(() => users() === "sleeper,watcher", "the longpoll presence to join");
    await waitFor(() => users() === "watcher", "the idle session's presence to leave");
    expect(await metricOf(server, "cinder_longpoll_timeouts_total")).toBe(1);
    expect(await metricOf(server, "cinder_longpoll_sessions")).toBe(0);
    // Its token now names a session that is gone.
    expect((await poll(server.port, token)).body).toEqual({ status: 410 });
  });

  it("verifies phoenix.js's authToken with built-in auth (the channel sees the user); a bad token is refused", async () => {
    const secretKeyBase = "a-secret-key-base-for-longpoll-auth-tests-0123456789";
    const whoAmI = { join: () => ok(), handleIn: (_event: string, _payload: unknown, socket: { userId: string | undefined }) => ok({ user: socket.userId ?? null }) };
    const server = await opened.server({ ...CHANNELS, secretKeyBase, auth: { phoenixToken: { salt: "user socket" } }, channels: { "me:*": whoAmI as never } });
    const good = opened.socket(longPollSocket(server.port, { authToken: signPhoenixToken(secretKeyBase, "user socket", { sub: "ada" }) }));
    const channel = good.channel("me:1", {});
    await joined(channel);
    expect(await pushed(channel, "who", {})).toEqual({ status: "ok", response: { user: "ada" } });

    const bad = opened.socket(longPollSocket(server.port, { authToken: "not-a-token" }));
    const errors: unknown[] = [];
    bad.onError((error) => void errors.push(error));
    await waitFor(() => errors.length > 0, "the refused socket to error");
    expect(bad.isConnected()).toBe(false);
    expect(await metricOf(server, "cinder_connects_rejected_total", { reason: "token_invalid" })).toBeGreaterThan(0);
  });

  it("ends a session on server.disconnect(id); phoenix.js learns it at its next poll (410), reconnects and rejoins", async () => {
    const server = await opened.server({ ...CHANNELS, connect: () => ({ id: "user:1" }) });
    const lp = opened.socket(longPollSocket(server.port));
    const room = lp.channel("room:kick", { user: "kicked", presence: false });
    await joined(room);
    let joins = 0;
    // phoenix.js runs a hook for a reply already received at once: only rejoins count after the reset.
    (room as unknown as { joinPush: { receive(status: string, callback: () => void): void } }).joinPush.receive("ok", () => joins++);
    joins = 0;
    expect(server.disconnect("user:1")).toBe(1);
    expect(await metricOf(server, "cinder_forced_disconnects_total")).toBe(1);
    await waitFor(async () => (await metricOf(server, "cinder_longpoll_requests_total", { method: "GET", status: "410" })) >= 3, "the old session's 410 and the new handshake");
    await waitFor(() => joins > 0, "the channel to rejoin on a new session", 10_000);
    expect(await metricOf(server, "cinder_longpoll_sessions")).toBe(1);
    expect(await pushed(room, "ping", {})).toEqual({ status: "ok", response: {} });
  });

  it("numbers broadcasts on a history topic and replays what a rejoining session missed", async () => {
    const server = await opened.server({ ...CHANNELS, channels: { "h:*": { join: () => ok(), history: { size: 100, ttlMs: 60_000 } } as never } });
    const first = await openSession(server.port);
    await post(server.port, first, frame("j", "j", "h:1", "phx_join", {}));
    const [reply] = await pollUntil(server.port, first, (message) => message[3] === "phx_reply");
    const recovery = (reply[4] as { response: { _recovery: { o: number; e: string } } }).response._recovery;
    for (let i = 1; i <= 5; i++) server.broadcast("h:1", "note", { i });
    const live = await pollUntil(server.port, first, (message) => (message[4] as { i?: number }).i === 5);
    expect(live.filter((message) => message[3] === "note").map((message) => (message[4] as { _o: number })._o)).toEqual([1, 2, 3, 4, 5]);

    // A new session rejoining from offset 2 gets 3, 4 and 5 after its reply.
    const second = await openSession(server.port);
    await post(server.port, second, frame("k", "k", "h:1", "phx_join", { _since: { o: 2, e: recovery.e } }));
    const replayed = await pollUntil(server.port, second, (message) => (message[4] as { i?: number }).i === 5);
    expect(replayed.map((message) => message[3])).toEqual(["phx_reply", "note", "note", "note"]);
    expect((replayed[0][4] as { response: { _recovery: unknown } }).response._recovery).toEqual({ recovered: true, o: 5, e: recovery.e });
  });

  it("runs the channel's terminate when a session ends", async () => {
    const ended: string[] = [];
    const server = await opened.server({ ...CHANNELS, longPollWindowMs: 200, channels: { "t:*": { join: () => ok(), terminate: (reason: string) => void ended.push(reason) } as never } });
    const token = await openSession(server.port);
    await post(server.port, token, frame("1", "1", "t:1", "phx_join", {}));
    await pollUntil(server.port, token, (message) => message[3] === "phx_reply");
    await waitFor(() => ended.length > 0, "terminate to run");
    expect(ended).toEqual(["closed"]);
  });

  it("is not served with longPoll: false", async () => {
    const server = await opened.server({ ...CHANNELS, longPoll: false });
    const response = await fetch(`http://127.0.0.1:${server.port}/socket/longpoll?vsn=2.0.0`);
    expect(response.status).toBe(404);
  });
});
