/**
 * Part 3 of the history benchmark: N clients on one history topic disconnect, `missed`
 * messages are published, and all N rejoin at once with `_since`. Timed from the moment the
 * joins are sent until each client holds every replayed message; every client is checked for
 * `recovered: true` and exactly the missed offsets, in order, once each.
 */
import { setTimeout as sleep } from "node:timers/promises";

import { type HistorySetup, type Pinning, pinSelf, recoveryApp, startNodes } from "./history-nodes.js";
import {
  closeAll,
  JOIN_PARAMS,
  offsetOf,
  openSockets,
  type PhoenixFrame,
  PhoenixSocket,
  recoveryOf,
  socketUrl,
  within,
} from "./history-ws.js";

const TOPIC = "room:recover";
/** Pushes the publisher has out at once: below maxQueuedPushes (100) of its channel. */
const PUBLISH_CHUNK = 50;
/** How long the first joins (no recovery yet) may take together. */
const JOIN_TIMEOUT_MS = 30_000;
/** How long the publisher waits for a chunk of its messages to come back numbered. */
const CHUNK_TIMEOUT_MS = 10_000;
/** After the last client is complete: long enough for a duplicate or a stray message to show. */
const GRACE_MS = 200;

export interface RecoveryOptions {
  clients: number;
  missed: number;
  timeoutMs: number;
  bodySize: number;
}

export interface RecoveryResult {
  setup: string;
  clients: number;
  missed: number;
  /** opening the N fresh sockets, before the rejoins (not in the times below) */
  connectMs: number;
  /** per client, from sending the rejoins: the join reply, and the last replayed message */
  replyMs: number[];
  doneMs: number[];
  /** clients whose reply said recovered: true */
  recovered: number;
  /** clients with recovered: true and exactly the missed offsets, in order, nothing else */
  exact: number;
  /** this process's CPU time over the rejoin / its wall time: near 1, the client was the limit */
  clientCpuShare: number;
}

export async function measureRecovery(setup: HistorySetup, o: RecoveryOptions, pinning: Pinning): Promise<RecoveryResult> {
  const env = { ...recoveryApp(Math.max(200, o.missed)), HISTORY_MAX_RECOVER: String(Math.max(300, o.missed)) };
  const cluster = await startNodes(setup, pinning, env);
  const unpin = pinSelf(pinning.client);
  try {
    return { setup: setup.label, ...(await recoverOnce(cluster.port, o)) };
  } finally {
    unpin();
    await cluster.stop();
  }
}

async function recoverOnce(port: number, o: RecoveryOptions): Promise<Omit<RecoveryResult, "setup">> {
  const publisher = await Publisher.start(port, o.bodySize);
  try {
    const since = await joinThenDisconnect(port, o.clients);
    const top = await publisher.publish(o.missed);
    const opened = performance.now();
    const sockets = await openSockets(port, o.clients);
    const connectMs = performance.now() - opened;
    try {
      return summarize(await rejoinAll(sockets, since, top, o), o, connectMs);
    } finally {
      await closeAll(sockets);
    }
  } finally {
    await publisher.close();
  }
}

interface Since {
  o: number;
  e: string;
}

/** Joins N clients, notes where each stands (`_recovery` of its reply), and closes them. */
async function joinThenDisconnect(port: number, clients: number): Promise<Since[]> {
  const sockets = await openSockets(port, clients);
  try {
    const joins = Promise.all(sockets.map((s) => s.join(TOPIC, { ...JOIN_PARAMS })));
    const replies = await within(joins, JOIN_TIMEOUT_MS, `${clients} joins of ${TOPIC}`);
    return replies.map(({ response }) => {
      const { o, e } = recoveryOf(response);
      return { o, e };
    });
  } finally {
    await closeAll(sockets);
    // The nodes see the closes a moment later; the messages must come after they are gone.
    await sleep(300);
  }
}

/** One client that stays joined and pushes the messages the others miss. */
class Publisher {
  private top = 0;
  private waiter: { until: number; resolve: () => void } | undefined;

  private constructor(private readonly socket: PhoenixSocket, private readonly joinRef: string, private readonly body: string) {
    socket.onFrame = (frame) => this.seen(frame);
  }

  static async start(port: number, bodySize: number): Promise<Publisher> {
    const socket = await PhoenixSocket.open(socketUrl(port));
    const { joinRef, response } = await socket.join(TOPIC, { ...JOIN_PARAMS });
    const publisher = new Publisher(socket, joinRef, "r".repeat(bodySize));
    publisher.top = recoveryOf(response).o;
    return publisher;
  }

  /** Publishes `n` messages; resolves with the topic's offset once all have come back numbered. */
  async publish(n: number): Promise<number> {
    const target = this.top + n;
    for (let sent = 0; sent < n; sent += PUBLISH_CHUNK) {
      const chunk = Math.min(PUBLISH_CHUNK, n - sent);
      const reached = this.reach(this.top + chunk);
      for (let i = 0; i < chunk; i++) this.socket.push(TOPIC, this.joinRef, "new_msg", { body: this.body });
      await within(reached, CHUNK_TIMEOUT_MS, `the publisher's messages up to offset ${this.top + chunk}`);
    }
    if (this.top !== target) throw new Error(`publisher saw offset ${this.top}, expected ${target}`);
    return target;
  }

  close(): Promise<void> {
    return this.socket.close();
  }

  private reach(offset: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = { until: offset, resolve };
    });
  }

  private seen(frame: PhoenixFrame): void {
    const offset = offsetOf(frame);
    if (frame[3] !== "new_msg" || offset === undefined) return;
    this.top = Math.max(this.top, offset);
    if (this.waiter && this.top >= this.waiter.until) {
      this.waiter.resolve();
      this.waiter = undefined;
    }
  }
}

/** What one rejoining client received, and when. */
class Tracker {
  replyMs: number | undefined;
  doneMs: number | undefined;
  recovered = false;
  replyTop = -1;
  received = 0;
  /** messages out of order, repeated, or after the expected ones */
  wrong = 0;
  private next: number;
  private joinRef = "";

  constructor(private readonly since: Since, private readonly missed: number, private readonly onDone: () => void) {
    this.next = since.o + 1;
  }

  /** recovered, brought to `top`, and every missed offset once, in order, nothing else */
  isExact(top: number): boolean {
    return this.recovered && this.replyTop === top && this.received === this.missed && this.wrong === 0;
  }

  rejoin(socket: PhoenixSocket, t0: number): void {
    socket.onFrame = (frame, at) => this.seen(frame, at - t0);
    this.joinRef = socket.sendJoin(TOPIC, { ...JOIN_PARAMS, _since: this.since });
  }

  private seen(frame: PhoenixFrame, atMs: number): void {
    if (frame[3] === "phx_reply" && frame[1] === this.joinRef) return this.replied(frame[4], atMs);
    if (frame[3] !== "new_msg") return;
    if (offsetOf(frame) !== this.next || this.received >= this.missed) {
      this.wrong++;
      return;
    }
    this.next++;
    this.received++;
    if (this.received === this.missed) {
      this.doneMs = atMs;
      this.onDone();
    }
  }

  private replied(reply: Record<string, unknown>, atMs: number): void {
    this.replyMs = atMs;
    if (reply.status !== "ok") return;
    const recovery = recoveryOf((reply.response ?? {}) as Record<string, unknown>);
    this.recovered = recovery.recovered;
    this.replyTop = recovery.o;
  }
}

/** Sends every rejoin in one go, then waits for all replays (or the timeout) and a grace period. */
async function rejoinAll(sockets: PhoenixSocket[], since: Since[], top: number, o: RecoveryOptions): Promise<RejoinOutcome> {
  let pending = sockets.length;
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const oneDone = (): void => {
    if (--pending === 0) allDone();
  };
  const trackers = since.map((s) => new Tracker(s, top - s.o, oneDone));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  sockets.forEach((socket, i) => trackers[i].rejoin(socket, t0));
  await Promise.race([done, sleep(o.timeoutMs)]);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await sleep(GRACE_MS);
  return { trackers, top, clientCpuShare: (cpu.user + cpu.system) / 1000 / wallMs };
}

interface RejoinOutcome {
  trackers: Tracker[];
  top: number;
  clientCpuShare: number;
}

function summarize(outcome: RejoinOutcome, o: RecoveryOptions, connectMs: number): Omit<RecoveryResult, "setup"> {
  const { trackers, top } = outcome;
  return {
    clients: trackers.length,
    missed: o.missed,
    connectMs,
    // A client that never got its reply or all its messages counts as the timeout.
    replyMs: trackers.map((t) => t.replyMs ?? o.timeoutMs),
    doneMs: trackers.map((t) => t.doneMs ?? o.timeoutMs),
    recovered: trackers.filter((t) => t.recovered).length,
    exact: trackers.filter((t) => t.isExact(top)).length,
    clientCpuShare: outcome.clientCpuShare,
  };
}
