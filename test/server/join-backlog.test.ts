import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { Frame } from "../../client/codec/frame.js";
import { ok, type ChannelHandler, type CinderServer } from "../../server/index.js";
import { uwsCapabilities } from "../../server/native-uws.js";
import { BUSY_MS, JoinBacklog, type BackloggedSocket } from "../../server/socket/join-backlog.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { socketUrl } from "../support/server.js";
import { waitFor } from "../support/wait.js";

/** A socket that records the frames the backlog hands back. */
class RecordingSocket implements BackloggedSocket {
  isOpen = true;
  backlogged = 0;
  readonly ran: string[] = [];
  constructor(private readonly all: string[]) {}
  dispatchFrame(frame: Frame): void {
    this.ran.push(frame.event);
    this.all.push(`${frame.topic}:${frame.event}`);
  }
}

const frame = (topic: string, event: string): Frame => ({ joinRef: "1", ref: "1", topic, event, payload: {} });

/** Keeps the thread busy for `ms`, as a long run of uWS callbacks does. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe("the join backlog", () => {
  it("runs frames at once while the thread is not busy", () => {
    const backlog = new JoinBacklog({ onSize: () => {}, onDeferred: () => {} });
    const socket = new RecordingSocket([]);
    expect(backlog.mustWait(socket, "phx_join")).toBe(false);
    expect(backlog.mustWait(socket, "new_msg")).toBe(false);
  });

  it("holds joins once the event loop has not come round for a while, and every later frame of their sockets, in order", async () => {
    const order: string[] = [];
    let deferred = 0;
    const backlog = new JoinBacklog({ onSize: () => {}, onDeferred: () => deferred++ });
    const joiner = new RecordingSocket(order);
    const chatter = new RecordingSocket(order);
    const offer = (socket: RecordingSocket, f: Frame) => {
      if (backlog.mustWait(socket, f.event)) backlog.add(socket, f);
      else socket.dispatchFrame(f);
    };
    offer(joiner, frame("room:a", "heartbeat"));
    busyFor(BUSY_MS + 5);
    offer(joiner, frame("room:a", "phx_join"));
    // The joiner's push comes after its join: it waits behind it.
    offer(joiner, frame("room:a", "new_msg"));
    // Another socket's push runs at once; its join waits, as every join does while some wait.
    offer(chatter, frame("room:b", "new_msg"));
    offer(chatter, frame("room:b", "phx_join"));
    expect(order).toEqual(["room:a:heartbeat", "room:b:new_msg"]);
    expect(deferred).toBe(3);
    await waitFor(() => order.length === 5, "the waiting frames to run");
    expect(order).toEqual(["room:a:heartbeat", "room:b:new_msg", "room:a:phx_join", "room:a:new_msg", "room:b:phx_join"]);
    expect(joiner.backlogged + chatter.backlogged).toBe(0);
  });

  it("still runs its floor of joins a turn when every turn is long for other work", async () => {
    const backlog = new JoinBacklog({ onSize: () => {}, onDeferred: () => {} });
    // Other work makes every turn of the event loop long, as another room's gossip or a shared core does.
    let turn = 0;
    let stopped = false;
    const otherWork = () => {
      busyFor(30);
      turn++;
      if (!stopped) setImmediate(otherWork);
    };
    setImmediate(otherWork);
    const perTurn = new Map<number, number>();
    const joiners = Array.from({ length: 64 * 12 }, () => {
      const socket = new RecordingSocket([]);
      socket.dispatchFrame = () => perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
      return socket;
    });
    backlog.mustWait(joiners[0], "heartbeat");
    busyFor(BUSY_MS + 5);
    for (const socket of joiners) {
      expect(backlog.mustWait(socket, "phx_join")).toBe(true);
      backlog.add(socket, frame("room:a", "phx_join"));
    }
    try {
      await waitFor(() => backlog.size === 0, "every waiting join to run");
    } finally {
      stopped = true;
    }
    const counts = [...perTurn.values()];
    // Every turn but the last ran at least 64 joins, however long the turns took.
    expect(counts.length).toBeGreaterThan(1);
    expect(Math.min(...counts.slice(0, -1))).toBeGreaterThanOrEqual(64);
  });

  it("lets an upgrade wait its turn, as a join, while the thread is busy or joins wait", async () => {
    const order: string[] = [];
    const backlog = new JoinBacklog({ onSize: () => {}, onDeferred: () => {} });
    expect(backlog.deferUpgrade(() => order.push("upgrade:now"))).toBe(false);
    const joiner = new RecordingSocket(order);
    busyFor(BUSY_MS + 5);
    expect(backlog.mustWait(joiner, "phx_join")).toBe(true);
    backlog.add(joiner, frame("room:a", "phx_join"));
    // Joins wait: an upgrade waits behind them, and a join after it behind it.
    expect(backlog.deferUpgrade(() => order.push("upgrade:a"))).toBe(true);
    const late = new RecordingSocket(order);
    expect(backlog.mustWait(late, "phx_join")).toBe(true);
    backlog.add(late, frame("room:b", "phx_join"));
    expect(order).toEqual([]);
    await waitFor(() => order.length === 3, "the waiting join, upgrade and join to run");
    expect(order).toEqual(["room:a:phx_join", "upgrade:a", "room:b:phx_join"]);
    expect(backlog.size).toBe(0);
  });

  it("drops the waiting frames of a socket that closed", async () => {
    const backlog = new JoinBacklog({ onSize: () => {}, onDeferred: () => {} });
    const gone = new RecordingSocket([]);
    backlog.mustWait(gone, "heartbeat");
    busyFor(BUSY_MS + 5);
    expect(backlog.mustWait(gone, "phx_join")).toBe(true);
    backlog.add(gone, frame("room:a", "phx_join"));
    gone.isOpen = false;
    const other = new RecordingSocket([]);
    expect(backlog.mustWait(other, "phx_join")).toBe(true);
    backlog.add(other, frame("room:b", "phx_join"));
    await waitFor(() => other.ran.length === 1, "the other socket's join to run");
    expect(gone.ran).toEqual([]);
    expect(gone.backlogged).toBe(0);
  });
});

describe("a join storm on a real server", () => {
  const opened = perTest();

  /** A room that tracks every member: a join costs enough that a thousand keep the thread busy. */
  const room: ChannelHandler = {
    join: (_topic, params, socket) => {
      socket.assigns.user = String(params.user);
      return ok();
    },
    afterJoin(socket) {
      socket.pushPresenceState();
      socket.track(socket.assigns.user as string, { online_at: String(Date.now()) });
    },
    handleIn(event, payload, socket) {
      if (event === "new_msg") socket.broadcast("new_msg", payload as Record<string, unknown>);
      return ok({});
    },
  };

  async function open(server: CinderServer): Promise<WebSocket> {
    const ws = new WebSocket(socketUrl(server));
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    return ws;
  }

  it("answers a chat in another room before the storm's joins, and answers every join in order with what its socket sent after it", async () => {
    const server = await opened.server({ channels: { "room:*": room }, maxPresencePerSecond: 0, maxJoinsPerSecond: 0 });
    const members = await Promise.all(Array.from({ length: 1000 }, () => open(server)));
    const chat = await open(server);
    chat.send(JSON.stringify(["1", "1", "room:elsewhere", "phx_join", { user: "chat" }]));
    await new Promise((resolve) => chat.once("message", resolve));
    try {
      /** Everything the test sees arrive, in order: a member's join reply, its push reply, the chat's broadcast. */
      const arrivals: string[] = [];
      const pending = members.map(
        (ws, i) =>
          new Promise<void>((resolve) => {
            ws.on("message", (data) => {
              const [, ref, , event] = JSON.parse(data.toString()) as [unknown, string, string, string];
              if (event !== "phx_reply") return;
              arrivals.push(`${i}:${ref}`);
              if (ref === "push") resolve();
            });
          }),
      );
      chat.on("message", (data) => {
        if ((JSON.parse(data.toString()) as unknown[])[3] === "new_msg") arrivals.push("chat");
      });
      // Every member joins, then pushes at once; the chat speaks last of all.
      members.forEach((ws, i) => {
        ws.send(JSON.stringify(["1", "join", "room:storm", "phx_join", { user: `u${i}` }]));
        ws.send(JSON.stringify(["1", "push", "room:storm", "ping", {}]));
      });
      chat.send(JSON.stringify(["1", "2", "room:elsewhere", "new_msg", { body: "hello" }]));
      await Promise.all(pending);
      await waitFor(() => arrivals.includes("chat"), "the chat's broadcast");

      // The chat came after every join was sent, yet most joins were answered after it.
      const joinsAfterChat = arrivals.slice(arrivals.indexOf("chat")).filter((a) => a.endsWith(":join")).length;
      expect(joinsAfterChat).toBeGreaterThan(members.length / 2);
      expect(await metricOf(server, "cinder_joins_deferred_total")).toBeGreaterThan(0);
      // Each member's push was answered after its join.
      members.forEach((_, i) => expect(arrivals.indexOf(`${i}:join`)).toBeLessThan(arrivals.indexOf(`${i}:push`)));
      expect(Object.keys(server.presence.list("room:storm"))).toHaveLength(members.length);
      await waitFor(async () => (await metricOf(server, "cinder_join_backlog")) === 0, "the backlog to empty");
    } finally {
      for (const ws of [...members, chat]) ws.close();
    }
  });

  // Only where uWS can answer an upgrade after its handler returned (neither build Cinder runs on yet).
  it.runIf(uwsCapabilities().upgradesLaterSafely)("lets sockets that connect during the storm wait behind its joins, then joins them", async () => {
    const server = await opened.server({ channels: { "room:*": room }, maxPresencePerSecond: 0, maxJoinsPerSecond: 0 });
    const members = await Promise.all(Array.from({ length: 1000 }, () => open(server)));
    const newcomers: WebSocket[] = [];
    try {
      /** What the test sees, in order: storm join replies ("join") and newcomers opening ("open"). */
      const arrivals: string[] = [];
      const joined = members.map(
        (ws) =>
          new Promise<void>((resolve) => {
            ws.on("message", (data) => {
              if ((JSON.parse(data.toString()) as unknown[])[3] !== "phx_reply") return;
              arrivals.push("join");
              resolve();
            });
          }),
      );
      members.forEach((ws, i) => ws.send(JSON.stringify(["1", "join", "room:storm", "phx_join", { user: `u${i}` }])));
      // Twenty sockets connect while the storm's joins wait.
      const opening = Array.from({ length: 20 }, () => {
        const ws = new WebSocket(socketUrl(server));
        newcomers.push(ws);
        return new Promise<void>((resolve, reject) =>
          ws.once("open", () => {
            arrivals.push("open");
            resolve();
          }).once("error", reject),
        );
      });
      await Promise.all([...joined, ...opening]);
      // Each newcomer was let in after most of the storm's joins had been answered.
      const joinsBefore = arrivals.map((a, i) => (a === "open" ? arrivals.slice(0, i).filter((b) => b === "join").length : Number.NaN)).filter((n) => !Number.isNaN(n));
      expect(joinsBefore).toHaveLength(20);
      expect(Math.min(...joinsBefore)).toBeGreaterThan(members.length / 2);
      // And its socket works: it joins the room.
      const replies = newcomers.map(
        (ws, i) =>
          new Promise<string>((resolve) => {
            ws.once("message", (data) => resolve(((JSON.parse(data.toString()) as unknown[])[4] as { status: string }).status));
            ws.send(JSON.stringify(["1", "1", "room:storm", "phx_join", { user: `n${i}` }]));
          }),
      );
      expect(await Promise.all(replies)).toEqual(Array(20).fill("ok"));
    } finally {
      for (const ws of [...members, ...newcomers]) ws.close();
    }
  });
});
