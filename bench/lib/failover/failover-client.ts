/**
 * A process of the failover benchmark's clients (bench/scenarios/failover.ts), started by it with
 * IPC. In `clients` mode it holds a share of the Phoenix-protocol clients (V2 JSON over `ws`),
 * each joined to one history room of the demo (`room:*`, outside presence), reconnecting as
 * phoenix.js does (reconnectAfterMs 10, 50, 100, 150, 200, 250, 500, 1000, 2000, then 5000 ms;
 * each attempt to the next node of the list, as behind a load balancer) and rejoining with
 * `_since` (its last offset and epoch) on the same backoff; it checks every room message's
 * offset against the one before (missing, duplicated) and keeps publish-to-receive latencies per
 * phase. In `publisher` mode it pushes `new_msg` to the rooms at a steady rate from sockets on
 * the surviving node, each body `<sequence>:<send time>`.
 */
import WebSocket from "ws";
import { LatencyHistogram } from "./latency-histogram.js";

export const RECONNECT_AFTER_MS = [10, 50, 100, 150, 200, 250, 500, 1000, 2000];
const RECONNECT_LAST_MS = 5000;
/** phoenix.js's default push and join timeout. */
const JOIN_TIMEOUT_MS = 10_000;
const HEARTBEAT_MS = 30_000;
/** What a WebSocket upgrade may take before the client gives up on it (a half-open socket). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export type Phase = "before" | "during" | "after";
export const PHASES: readonly Phase[] = ["before", "during", "after"];

export interface ClientsStart {
  type: "start";
  role: "clients";
  ports: number[];
  /** Client indices this process holds: client i starts on node i mod nodes, in room i mod rooms. */
  from: number;
  to: number;
  rooms: number;
  localAddress: string;
}

export interface PublisherStart {
  type: "start";
  role: "publisher";
  port: number;
  rooms: number;
  rate: number;
  sockets: number;
}

export type ToChild =
  | ClientsStart
  | PublisherStart
  | { type: "phase"; phase: Phase }
  | { type: "publish"; on: boolean }
  | { type: "tops"; tops: Record<string, { o: number; e: string }>; timeoutMs: number };

export interface ClientsStatus {
  type: "status";
  joined: number;
  /** Clients whose socket closed at least once, and those of them joined again now. */
  moved: number;
  movedJoined: number;
  /** Upgrades refused with HTTP 503 (saturated), other refusals and failures, handshakes that timed out. */
  refused503: number;
  failed: number;
  handshakeTimeouts: number;
  joinTimeouts: number;
  /** When the latest join was answered ok (epoch ms). */
  lastJoinedAt: number;
}

export interface ClientsFinal {
  type: "final";
  missing: number;
  duplicated: number;
  notRecovered: number;
  recovered: number;
  replayed: number;
  epochChanges: number;
  /** Messages short of the room's last offset once the run ended (included in missing). */
  tailMissing: number;
  moved: number;
  histograms: Record<Phase, { stayed: Array<[number, number]>; moved: Array<[number, number]> }>;
}

export interface PublisherStatus {
  type: "published";
  sent: number;
  ok: number;
  errors: number;
  timeouts: number;
}

export type FromChild = ClientsStatus | ClientsFinal | PublisherStatus;

const send = (message: FromChild) => process.send?.(message);
const now = () => performance.timeOrigin + performance.now();

const roomOf = (index: number) => `room:fo${index}`;

let phase: Phase = "before";

// ── clients ──────────────────────────────────────────────────────────────

const totals = { refused503: 0, failed: 0, handshakeTimeouts: 0, joinTimeouts: 0, lastJoinedAt: 0 };
const checks = { missing: 0, duplicated: 0, notRecovered: 0, recovered: 0, replayed: 0, epochChanges: 0 };
const histograms: Record<Phase, { stayed: LatencyHistogram; moved: LatencyHistogram }> = {
  before: { stayed: new LatencyHistogram(), moved: new LatencyHistogram() },
  during: { stayed: new LatencyHistogram(), moved: new LatencyHistogram() },
  after: { stayed: new LatencyHistogram(), moved: new LatencyHistogram() },
};

class FailoverClient {
  private ws: WebSocket | null = null;
  private attempts = 0;
  private port: number;
  private joinRef = 0;
  private ref = 0;
  private joinTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private rejoins = 0;
  /** The last offset received, and its epoch. */
  last: { o: number; e: string } | null = null;
  /** Messages up to this offset arrive as the replay of the last join, not live. */
  private replayUntil = 0;
  joined = false;
  moved = false;

  constructor(
    readonly topic: string,
    private readonly ports: number[],
    home: number,
    private readonly localAddress: string,
  ) {
    this.port = home;
  }

  connect(): void {
    const ws = new WebSocket(`ws://127.0.0.1:${this.ports[this.port]}/socket/websocket?vsn=2.0.0`, { localAddress: this.localAddress, handshakeTimeout: HANDSHAKE_TIMEOUT_MS, perMessageDeflate: false });
    this.ws = ws;
    ws.on("open", () => {
      this.attempts = 0;
      this.heartbeat = setInterval(() => ws.send(`[null,"${++this.ref}","phoenix","heartbeat",{}]`), HEARTBEAT_MS);
      this.join();
    });
    ws.on("message", (data) => this.receive(String(data)));
    ws.on("error", (err) => {
      if (/Unexpected server response: 503/.test(err.message)) totals.refused503++;
      else if (/Opening handshake has timed out/.test(err.message)) totals.handshakeTimeouts++;
      else totals.failed++;
    });
    ws.on("close", () => this.closed(ws));
  }

  private closed(ws: WebSocket): void {
    if (this.ws !== ws) return;
    this.ws = null;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.joinTimer) clearTimeout(this.joinTimer);
    this.heartbeat = this.joinTimer = null;
    this.joined = false;
    this.moved = true;
    const delay = RECONNECT_AFTER_MS[this.attempts] ?? RECONNECT_LAST_MS;
    this.attempts++;
    this.port = (this.port + 1) % this.ports.length;
    setTimeout(() => this.connect(), delay);
  }

  private join(): void {
    const ws = this.ws;
    if (!ws) return;
    const joinRef = String(++this.joinRef);
    const payload: Record<string, unknown> = { user: "fo", presence: false };
    if (this.last) payload._since = this.last;
    ws.send(JSON.stringify([joinRef, joinRef, this.topic, "phx_join", payload]));
    this.joinTimer = setTimeout(() => {
      totals.joinTimeouts++;
      this.rejoinLater();
    }, JOIN_TIMEOUT_MS);
  }

  private rejoinLater(): void {
    if (this.joinTimer) clearTimeout(this.joinTimer);
    const delay = RECONNECT_AFTER_MS[this.rejoins] ?? RECONNECT_LAST_MS;
    this.rejoins++;
    this.joinTimer = setTimeout(() => this.join(), delay);
  }

  private receive(text: string): void {
    if (text.startsWith("[null,null,")) return this.message(text);
    const frame = JSON.parse(text) as [string | null, string | null, string, string, { status: string; response: { _recovery?: { recovered: boolean; o: number; e: string } } }];
    if (frame[3] !== "phx_reply" || frame[0] !== String(this.joinRef) || frame[1] !== frame[0]) return;
    if (this.joinTimer) clearTimeout(this.joinTimer);
    this.joinTimer = null;
    if (frame[4].status !== "ok") return this.rejoinLater();
    const recovery = frame[4].response._recovery;
    if (!recovery) throw new Error(`${this.topic} keeps no history: its join reply has no _recovery`);
    this.rejoins = 0;
    this.joined = true;
    totals.lastJoinedAt = Date.now();
    if (!this.last) {
      this.last = { o: recovery.o, e: recovery.e };
      return;
    }
    if (recovery.recovered) {
      checks.recovered++;
      this.replayUntil = recovery.o;
      return;
    }
    checks.notRecovered++;
    if (recovery.e === this.last.e && recovery.o > this.last.o) checks.missing += recovery.o - this.last.o;
    this.last = { o: recovery.o, e: recovery.e };
  }

  /** A room message: its offset right after the last one, or counted missing (a hole) or duplicated. */
  private message(text: string): void {
    const at = text.indexOf('"_o":');
    if (at < 0) return;
    const o = Number.parseInt(text.slice(at + 5, at + 25), 10);
    const e = /"_e":"([^"]*)"/.exec(text.slice(at))?.[1] ?? "";
    const last = this.last;
    if (!last) return;
    if (e !== last.e) {
      checks.epochChanges++;
      this.last = { o, e };
      return;
    }
    if (o <= last.o) {
      checks.duplicated++;
      return;
    }
    if (o > last.o + 1) checks.missing += o - last.o - 1;
    last.o = o;
    if (o <= this.replayUntil) {
      checks.replayed++;
      return;
    }
    const body = /"body":"\d+:([\d.]+)"/.exec(text)?.[1];
    if (body) histograms[phase][this.moved ? "moved" : "stayed"].add(now() - Number(body));
  }
}

function runClients(start: ClientsStart): void {
  const clients: FailoverClient[] = [];
  for (let i = start.from; i < start.to; i++) clients.push(new FailoverClient(roomOf(i % start.rooms), start.ports, i % start.ports.length, start.localAddress));
  // Not all in one turn: a burst of thousands of connects would overflow the listen backlog.
  let next = 0;
  const opening = setInterval(() => {
    for (let n = 0; n < 200 && next < clients.length; n++) clients[next++].connect();
    if (next === clients.length) clearInterval(opening);
  }, 20);
  setInterval(() => {
    let joined = 0;
    let moved = 0;
    let movedJoined = 0;
    for (const client of clients) {
      if (client.joined) joined++;
      if (client.moved) moved++;
      if (client.moved && client.joined) movedJoined++;
    }
    send({ type: "status", joined, moved, movedJoined, ...totals });
  }, 200);
  process.on("message", (message: ToChild) => {
    if (message.type === "phase") phase = message.phase;
    if (message.type === "tops") void finish(clients, message.tops, message.timeoutMs);
  });
}

/** Once every client has the last offset of its room (or the time is up): the checks, and what is still short counted missing. */
async function finish(clients: FailoverClient[], tops: Record<string, { o: number; e: string }>, timeoutMs: number): Promise<void> {
  const topOf = (client: FailoverClient) => tops[client.topic];
  const caughtUp = () => clients.every((client) => client.last && topOf(client) && client.last.e === topOf(client).e && client.last.o >= topOf(client).o);
  const deadline = Date.now() + timeoutMs;
  while (!caughtUp() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  let tailMissing = 0;
  let moved = 0;
  for (const client of clients) {
    if (client.moved) moved++;
    const top = topOf(client);
    if (top && client.last && client.last.e === top.e && client.last.o < top.o) tailMissing += top.o - client.last.o;
  }
  const sparse = (h: { stayed: LatencyHistogram; moved: LatencyHistogram }) => ({ stayed: h.stayed.sparse(), moved: h.moved.sparse() });
  send({
    type: "final",
    ...checks,
    missing: checks.missing + tailMissing,
    tailMissing,
    moved,
    histograms: { before: sparse(histograms.before), during: sparse(histograms.during), after: sparse(histograms.after) },
  });
}

// ── publisher ────────────────────────────────────────────────────────────

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
      socket.ws.send(JSON.stringify([`j${r}`, pushRef, roomOf(r), "new_msg", { body: `${++sequence[r]}:${now().toFixed(1)}` }]));
    }
  }, 5);
  setInterval(() => {
    const stale = Date.now() - JOIN_TIMEOUT_MS;
    for (const [pushRef, at] of pending) {
      if (at > stale) break;
      pending.delete(pushRef);
      status.timeouts++;
    }
    send(status);
  }, 200);
  process.on("message", (message: ToChild) => {
    if (message.type !== "publish") return;
    on = message.on;
    if (on) started = performance.now() - (status.sent * 1000) / start.rate;
  });
}

process.once("message", (message: ToChild) => {
  if (message.type !== "start") throw new Error(`expected start, got ${message.type}`);
  if (message.role === "clients") runClients(message);
  else runPublisher(message);
});
process.on("disconnect", () => process.exit(0));
