// Many sockets in one VU, on k6's event-loop WebSocket API (k6/experimental/websockets, k6
// v0.43+). `k6/ws` blocks its VU in ws.connect for the life of one socket, so a socket costs a
// whole VU and its JS runtime (about 150 KiB of k6 memory a socket, against about 57 KiB here:
// bench/k6/README.md); here a VU holds hundreds. One timer per VU (not per socket: every k6
// timer is a goroutine) paces the connects, sends the heartbeats and ends the VU.
import { WebSocket } from "k6/experimental/websockets";
import { clearInterval, setInterval } from "k6/experimental/timers";
import { Counter } from "k6/metrics";

import { PhoenixSocket, socketUrl } from "./phoenix.js";
import { socketsOfThisVu } from "./segment.js";

const TICK_MS = 50;

/**
 * The counters of a pool: `<prefix>_planned`, `_opened`, `_failed` (no upgrade), `_closed_early`
 * (closed before the end, by the server or the network). Create them in the init context.
 */
export function poolCounters(prefix) {
  return {
    planned: new Counter(`${prefix}_planned`),
    opened: new Counter(`${prefix}_opened`),
    failed: new Counter(`${prefix}_failed`),
    closedEarly: new Counter(`${prefix}_closed_early`),
  };
}

const SOCKETS = poolCounters("sockets");

/**
 * Runs one VU's sockets and returns at once; the VU's iteration lasts until every socket is closed.
 *   indices      socket numbers in the whole test (they pick the URL and whatever the caller derives)
 *   openAt(i)    epoch ms when socket i connects
 *   closeAt      epoch ms when every socket is closed
 *   url(i)       its URL
 *   heartbeatMs  each open socket sends a Phoenix heartbeat this often
 *   onOpen(phx, i)             after the upgrade (join here)
 *   onMessage(phx, i, data)    every text frame
 *   onTick(now)                every TICK_MS, and once more after the last socket is closed
 *   counters     poolCounters(…) to count in; default sockets_*
 */
export function runSocketPool(o) {
  const { planned, opened, failed, closedEarly } = o.counters || SOCKETS;
  // Every opened socket, for heartbeats and the close. `open` is kept here: the WebSocket's own
  // readyState is a Go value that only compares loosely (== 1, not === 1).
  const live = []; // the `socket` records of open() below
  let next = 0; // next index of o.indices to open
  // Sockets in the order of their next heartbeat: one opens or beats, it goes to the back with
  // a due time heartbeatMs later, which no socket ahead of it has passed — so the queue stays in
  // order and a late tick (a busy event loop) beats everything it owes.
  let beats = []; // {socket, due}
  let beatsHead = 0;
  let closing = false;
  let failures = 0;
  let earlyCloses = 0;
  planned.add(o.indices.length);

  const open = (i) => {
    const ws = new WebSocket(o.url(i));
    // lastSent (its last join or heartbeat) and error tell an idle timeout from other closes.
    const socket = { phx: new PhoenixSocket(ws), upgraded: false, open: false, openedAt: 0, lastSent: 0, error: "" };
    ws.onopen = () => {
      socket.upgraded = true;
      opened.add(1);
      if (closing) return ws.close(); // connected after the end: only counted
      socket.open = true;
      socket.openedAt = socket.lastSent = Date.now();
      live.push(socket);
      beats.push({ socket, due: Date.now() + o.heartbeatMs });
      o.onOpen(socket.phx, i);
    };
    ws.onmessage = (e) => o.onMessage(socket.phx, i, e.data);
    ws.onerror = (e) => {
      socket.error = String(e.error);
      if (socket.upgraded) return;
      failed.add(1);
      // Why sockets fail ("too many open files", "connection refused" …) says where a run stopped.
      if (failures++ === 0) console.warn(`socket ${i}: ${e.error} (first failure of this VU)`);
    };
    ws.onclose = () => {
      if (socket.open && !closing) {
        closedEarly.add(1);
        const now = Date.now();
        if (earlyCloses++ === 0) {
          console.warn(`socket ${i}: closed ${now - socket.openedAt} ms after it opened, ${now - socket.lastSent} ms ` +
            `after it last sent, ${socket.error || "with a close frame"} (first early close of this VU)`);
        }
      }
      socket.open = false;
    };
  };

  const timer = setInterval(() => {
    const now = Date.now();
    if (now >= o.closeAt) {
      closing = true;
      clearInterval(timer);
      for (const socket of live) if (socket.open) socket.phx.socket.close();
      o.onTick(now);
      return;
    }
    while (next < o.indices.length && o.openAt(o.indices[next]) <= now) open(o.indices[next++]);
    while (beatsHead < beats.length && beats[beatsHead].due <= now) {
      const due = beats[beatsHead++];
      if (!due.socket.open) continue;
      due.socket.phx.heartbeat();
      due.socket.lastSent = now;
      due.due = now + o.heartbeatMs;
      beats.push(due);
    }
    if (beatsHead > 1024 && beatsHead * 2 > beats.length) {
      beats = beats.slice(beatsHead);
      beatsHead = 0;
    }
    o.onTick(now);
  }, TICK_MS);
}

/**
 * This VU's share of `total` sockets that open evenly over `rampMs` from `startAt`, socket i as
 * user `userOf(i)`: the `indices`, `openAt` and `url` of runSocketPool.
 */
export function rampedShare(total, vus, startAt, rampMs, userOf) {
  const step = rampMs / total;
  return { indices: socketsOfThisVu(total, vus), openAt: (i) => startAt + i * step, url: (i) => socketUrl(userOf(i), i) };
}
