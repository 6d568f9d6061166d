/**
 * What a client of a 10,000-member topic receives under churn: following the presence as a
 * list (presence_diff) or as a count (presence_count). One node in this process; the members
 * are tracked server-side (no sockets needed for them), two clients watch over real WebSockets.
 */
import WebSocket from "ws";
import { createServer, type CinderServer } from "../../server/index.js";
import { roomChannel } from "../../server/demo/room-channel.js";

export interface ReceivedCost {
  frames: number;
  bytes: number;
}

export interface PresenceCountCost {
  seconds: number;
  changes: number;
  list: ReceivedCost;
  count: ReceivedCost;
  /** The join's presence_state for the list client, and its presence_count for the count client. */
  listJoinBytes: number;
  countJoinBytes: number;
}

function watcher(server: CinderServer, topic: string, params: Record<string, unknown>) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket/websocket?vsn=2.0.0`);
  const cost = { frames: 0, bytes: 0, joinBytes: 0, counting: false };
  ws.on("message", (data) => {
    const text = data.toString();
    const event = (JSON.parse(text) as unknown[])[3];
    if (event === "presence_state" || (event === "presence_count" && !cost.counting)) cost.joinBytes += text.length;
    else if (cost.counting && (event === "presence_diff" || event === "presence_count")) {
      cost.frames++;
      cost.bytes += text.length;
    }
  });
  const opened = new Promise<void>((resolve) => ws.once("open", () => resolve()));
  return {
    cost,
    async join() {
      await opened;
      ws.send(JSON.stringify(["1", "1", topic, "phx_join", params]));
    },
    close: () => ws.close(),
  };
}

export async function presenceCountCost(members: number, changesPerSecond: number, seconds: number): Promise<PresenceCountCost> {
  const server = await createServer({ port: 0, logLevel: "silent", channels: { "room:*": roomChannel } }).listen();
  const topic = "room:big";
  for (let i = 0; i < members; i++) server.presence.track(`owner-${i}`, topic, `user-${i}`, { online_at: String(Date.now()), device: "web" });
  const list = watcher(server, topic, { user: "list-watcher" });
  const count = watcher(server, topic, { user: "count-watcher", presence: "count" });
  await Promise.all([list.join(), count.join()]);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // join replies, presence_state and the first count are in
  list.cost.counting = count.cost.counting = true;
  // Churn: each change a join or a leave at random (a random walk around `members`, so the
  // count moves as a real room's does), spread evenly over each second. Seeded: runs compare.
  let next = members;
  let oldest = 0;
  let seed = 42;
  const coin = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) & 1024) === 0;
  let changes = 0;
  const started = Date.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.floor(((Date.now() - started) / 1000) * changesPerSecond);
      while (changes < due) {
        if (coin()) server.presence.track(`owner-${next}`, topic, `user-${next++}`, { online_at: String(Date.now()), device: "web" });
        else server.presence.untrack(`owner-${oldest++}`, topic);
        changes++;
      }
      if (Date.now() - started >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  await new Promise((resolve) => setTimeout(resolve, 1200)); // the last throttled count arrives
  const result: PresenceCountCost = {
    seconds,
    changes,
    list: { frames: list.cost.frames, bytes: list.cost.bytes },
    count: { frames: count.cost.frames, bytes: count.cost.bytes },
    listJoinBytes: list.cost.joinBytes,
    countJoinBytes: count.cost.joinBytes,
  };
  list.close();
  count.close();
  await server.close();
  return result;
}
