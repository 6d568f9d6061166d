/**
 * cinder/client on the LongPoll transport against a real Cinder server (its `/socket/longpoll`
 * endpoint), over real HTTP: in Node it uses fetch. A WebSocket client of ours shares the room.
 */
import { describe, expect, it } from "vitest";
import { LongPoll, Presence, type Channel, type SessionStore, type SocketOptions, type TransportConstructor } from "../../client/index.js";
import { roomChannel } from "../../server/demo/room-channel.js";
import { perTest } from "../support/opened.js";
import { waitFor } from "../support/wait.js";
import { cinderSocket, echoChannel, joined, outcome, wsTransport } from "./support.js";

const opened = perTest();
/** The channels of these tests: the demo room and the echo channel. */
const CHANNELS = { channels: { "room:*": roomChannel, "echo:*": echoChannel } };
const connect = (port: number, options: SocketOptions) => opened.socket(cinderSocket(port, options));

/** Everything `event` brings on `channel`, in order. */
function collect<T>(channel: Channel, event: string): T[] {
  const seen: T[] = [];
  channel.on<T>(event, (payload) => seen.push(payload));
  return seen;
}

/** A WebSocket that never gets through: it errors and closes, as one a proxy blocks. */
class BlockedWebSocket {
  readyState = 0;
  onopen: (() => void) | null = null;
  onerror: ((error: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  constructor() {
    setTimeout(() => {
      this.readyState = 3;
      this.onerror?.(new Error("blocked"));
      this.onclose?.({ code: 1006 });
    }, 0);
  }
  send(): void {}
  close(): void {
    this.readyState = 3;
  }
}

describe("cinder/client over LongPoll against a Cinder server", () => {
  it("joins, pushes and gets replies, and shares broadcasts and presence with a WebSocket client both ways", async () => {
    const server = await opened.server(CHANNELS);
    const lp = connect(server.port, { transport: LongPoll });
    const ws = connect(server.port, { transport: wsTransport });
    const lpRoom = lp.channel("room:mixed", { user: "lp" });
    const wsRoom = ws.channel("room:mixed", { user: "ws" });
    const lpPresence = new Presence(lpRoom);
    const wsPresence = new Presence(wsRoom);
    const lpMessages = collect<{ user: string; body: string }>(lpRoom, "new_msg");
    const wsMessages = collect<{ user: string; body: string }>(wsRoom, "new_msg");
    await joined(wsRoom);
    await joined(lpRoom);
    expect(lp.conn).toBeInstanceOf(LongPoll);

    const users = (presence: Presence) => presence.list((key) => key).sort().join(",");
    await waitFor(() => users(lpPresence) === "lp,ws" && users(wsPresence) === "lp,ws", "both users in both presence lists");

    expect(await outcome(lpRoom.push("ping", {}))).toEqual({ status: "ok", response: {} });
    lpRoom.push("new_msg", { body: "from longpoll" });
    wsRoom.push("new_msg", { body: "from websocket" });
    const both = (messages: { body: string }[]) => messages.map((m) => m.body).sort().join("|");
    await waitFor(() => both(lpMessages) === "from longpoll|from websocket", "both messages over LongPoll");
    await waitFor(() => both(wsMessages) === "from longpoll|from websocket", "both messages over the WebSocket");
    expect(lpMessages.find((m) => m.body === "from websocket")!.user).toBe("ws");

    // Leaving over LongPoll takes the user out of the WebSocket client's presence.
    lpRoom.leave();
    await waitFor(() => users(wsPresence) === "ws", "lp gone from the WebSocket client's presence");
  });

  it("keeps the order of many pushes sent in one tick (one batched POST), and gets every reply", async () => {
    const server = await opened.server(CHANNELS);
    const lp = connect(server.port, { transport: LongPoll });
    const channel = lp.channel("echo:batch");
    await joined(channel);
    const replies = await Promise.all(Array.from({ length: 150 }, (_, i) => outcome(channel.push("echo", { i }))));
    expect(replies.map((r) => r.status)).toEqual(Array(150).fill("ok"));
    expect(replies.map((r) => (r.response as { echo: { i: number } }).echo.i)).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });

  it("a refused join is an error reply over LongPoll too", async () => {
    const server = await opened.server(CHANNELS);
    const lp = connect(server.port, { transport: LongPoll });
    const { status, response } = await outcome(lp.channel("echo:no", { refuse: true }).join());
    expect({ status, response }).toEqual({ status: "error", response: { reason: "refused" } });
  });

  it("falls back to LongPoll when the WebSocket is blocked, remembers it, and works", async () => {
    const server = await opened.server(CHANNELS);
    const items = new Map<string, string>();
    const store: SessionStore = { getItem: (key) => items.get(key) ?? null, setItem: (key, value) => void items.set(key, value) };
    const socket = connect(server.port, { transport: BlockedWebSocket as unknown as TransportConstructor, longPollFallbackMs: 2500, sessionStorage: store });
    const room = socket.channel("room:fallback", { user: "behind-a-proxy" });
    await joined(room);
    expect(socket.conn).toBeInstanceOf(LongPoll);
    expect(items.get("phx:fallback:LongPoll")).toBe("true");
    expect(await outcome(room.push("ping", {}))).toEqual({ status: "ok", response: {} });
  });
});
