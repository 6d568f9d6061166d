/**
 * The failover benchmark's publisher (bench/scenarios/failover.ts), a Node process it forks with
 * IPC: it pushes `new_msg` to the history rooms `room:fo<r>` at a steady rate from a few sockets
 * on the surviving node, each body `<sequence>:<send time>`, the time in ms of CLOCK_MONOTONIC
 * (`process.hrtime`): the clock the native clients (bench/native/failover/failover.c) read, one
 * for every process on the machine. It reports what it sent and how the pushes were answered.
 */
import WebSocket from "ws";

import type { PublisherStatus } from "./failover-types.js";

/** What a push may wait for its answer before it counts as timed out (phoenix.js's push timeout). */
const PUSH_TIMEOUT_MS = 10_000;
const HEARTBEAT_MS = 30_000;

export interface PublisherStart {
  type: "start";
  port: number;
  rooms: number;
  rate: number;
  sockets: number;
}

export type ToPublisher = PublisherStart | { type: "publish"; on: boolean };

/** Its status every 200 ms; once stopped, how many it sent in all (the answers may still come). */
export type FromPublisher = PublisherStatus | { type: "stopped"; sent: number };

const roomOf = (index: number) => `room:fo${index}`;
/** CLOCK_MONOTONIC in ms, as the native clients read it. */
const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

function runPublisher(start: PublisherStart): void {
  const status: PublisherStatus = { type: "published", sent: 0, ok: 0, errors: 0, timeouts: 0 };
  const sockets: Array<{ ws: WebSocket; rooms: number[]; joined: boolean }> = [];
  const sequence = new Array<number>(start.rooms).fill(0);
  const pending = new Map<string, number>();
  let ref = 0;
  let on = false;
  let started = 0;
  for (let s = 0; s < start.sockets; s++) {
    const rooms: number[] = [];
    for (let r = s; r < start.rooms; r += start.sockets) rooms.push(r);
    const ws = new WebSocket(`ws://127.0.0.1:${start.port}/socket/websocket?vsn=2.0.0`, { perMessageDeflate: false });
    const entry = { ws, rooms, joined: false };
    sockets.push(entry);
    ws.on("open", () => {
      for (const r of rooms) ws.send(JSON.stringify([`j${r}`, `j${r}`, roomOf(r), "phx_join", { user: "publisher", presence: false }]));
      setInterval(() => ws.send(`[null,"h${++ref}","phoenix","heartbeat",{}]`), HEARTBEAT_MS);
      entry.joined = true;
    });
    ws.on("message", (data) => {
      const text = String(data);
      if (text.startsWith("[null,null,") || !text.includes('"phx_reply"')) return;
      const [, replyRef, , , reply] = JSON.parse(text) as [string, string, string, string, { status: string }];
      if (!pending.delete(replyRef)) return;
      if (reply.status === "ok") status.ok++;
      else status.errors++;
    });
    ws.on("error", () => undefined);
  }
  let room = 0;
  setInterval(() => {
    if (!on) return;
    const due = Math.floor(((performance.now() - started) * start.rate) / 1000) - status.sent;
    for (let n = 0; n < due; n++) {
      const r = room;
      room = (room + 1) % start.rooms;
      const socket = sockets[r % start.sockets];
      if (!socket.joined) continue;
      const pushRef = String(++ref);
      pending.set(pushRef, Date.now());
      status.sent++;
      socket.ws.send(JSON.stringify([`j${r}`, pushRef, roomOf(r), "new_msg", { body: `${++sequence[r]}:${monotonicMs().toFixed(1)}` }]));
    }
  }, 5);
  setInterval(() => {
    const stale = Date.now() - PUSH_TIMEOUT_MS;
    for (const [pushRef, at] of pending) {
      if (at > stale) break;
      pending.delete(pushRef);
      status.timeouts++;
    }
    process.send?.(status satisfies FromPublisher);
  }, 200);
  process.on("message", (message: ToPublisher) => {
    if (message.type !== "publish") return;
    on = message.on;
    if (on) started = performance.now() - (status.sent * 1000) / start.rate;
    else process.send?.({ type: "stopped", sent: status.sent } satisfies FromPublisher);
  });
}

process.once("message", (message: ToPublisher) => {
  if (message.type !== "start") throw new Error(`expected start, got ${message.type}`);
  runPublisher(message);
});
process.on("disconnect", () => process.exit(0));
