import type { Frame } from "../../client/codec/frame.js";
import { EVENTS } from "../../client/codec/frame.js";

/** A socket whose frames may wait here. */
export interface BackloggedSocket {
  readonly isOpen: boolean;
  /** Frames of this socket waiting in the backlog (kept by the backlog). */
  backlogged: number;
  /** Handles a frame that waited. */
  dispatchFrame(frame: Frame): void;
}

export interface JoinBacklogOptions {
  /** Joins (and what came after them) waiting now, and deferred in all (the metrics). */
  onSize(size: number): void;
  onDeferred(): void;
}

/**
 * The event loop has not come round for this long, ms: joins arriving now wait in the backlog.
 * uWS calls back for every message that arrived while the thread was busy, one after the other
 * and before anything else; a storm of joins, each costing tens of microseconds, then keeps the
 * thread in that one phase for seconds, and every broadcast of every other room waits for it.
 */
export const BUSY_MS = 10;
/**
 * How long a turn of the event loop should take while joins wait, ms. Joins are run a number at a
 * time per turn, and that number halves when a turn took longer than this (a join's cost is
 * mostly in what it awaits: its presence, its replies, run after the turn hands over) and grows
 * by a quarter when a turn took less than half of it.
 */
const TURN_TARGET_MS = 20;
/**
 * The fewest joins a turn runs while they wait. A turn is timed by the clock, so it is long too
 * when the work is not the joins' (the gossip of a room that joins on every node at once, other
 * processes on the same core): with a floor of a few joins a turn, such a thread ran some 30 joins
 * a second with a core a third idle, and a room of 100,000 never filled. 64 joins are a few
 * milliseconds of work.
 */
const MIN_PER_TURN = 64;
const MAX_PER_TURN = 4096;
/** Frames waiting at most per thread; past it, joins run at once again (bounded by the sockets' rate limits anyway). */
const MAX_WAITING = 200_000;

/** A frame of a socket, or a new socket's upgrade (run: it answers the upgrade). */
type Waiting = { socket: BackloggedSocket; frame: Frame } | { socket: null; upgrade: () => void };

/**
 * Joins under load. While the thread is busy (the event loop has not come round for BUSY_MS),
 * a join frame waits here instead of running at once, and so does every join after it while any
 * wait; waiting joins run in the next turns of the event loop, as many per turn as keep a turn
 * near TURN_TARGET_MS, in the order they came. Every other frame still runs at once, so a chat in
 * another room is answered while a whole room joins; but a socket with a frame waiting has all
 * its later frames wait behind it, in order.
 *
 * A WebSocket upgrade can wait here the same way (`deferUpgrade`), counted as a join: the clients
 * of a node that died all connect within a few hundred milliseconds, and uWS calls back for every
 * upgrade before the event loop moves on, so thousands answered at once hold every broadcast of
 * the thread for as long; each waits its turn instead, and its join comes after it. The endpoint
 * asks only where the uWS build can answer an upgrade later (websocket.ts, upgradesLaterSafely).
 */
export class JoinBacklog {
  private waiting: Waiting[] = [];
  private head = 0;
  /** When the turn asked for last began to be awaited; 0 when none is awaited. */
  private awaitedSince = 0;
  /** Joins run per turn while they wait. */
  private perTurn = 64;
  /** When the last turn that ran waiting frames began; 0 when the backlog was empty since. */
  private lastTurnAt = 0;

  constructor(private readonly options: JoinBacklogOptions) {}

  /** Frames waiting now (joins, and frames of their sockets behind them). */
  get size(): number {
    return this.waiting.length - this.head;
  }

  /** Whether a frame with `event` from `socket` must wait (then `add` it); false when it runs now. */
  mustWait(socket: BackloggedSocket, event: string): boolean {
    const busy = this.joinMustWait();
    if (socket.backlogged > 0) return true;
    return event === EVENTS.join && busy;
  }

  add(socket: BackloggedSocket, frame: Frame): void {
    socket.backlogged++;
    this.push({ socket, frame });
  }

  /**
   * Runs `upgrade` now, or in a later turn while joins wait or the thread is busy (as a join would
   * wait). Its caller answers the upgrade from there: uWS then needs the response corked and
   * watched for the client going away.
   */
  deferUpgrade(upgrade: () => void): boolean {
    if (!this.joinMustWait()) return false;
    this.push({ socket: null, upgrade });
    return true;
  }

  /** Whether a join arriving now waits: while some wait, every join does (in turn); else only once the thread is busy. */
  private joinMustWait(): boolean {
    const now = performance.now();
    if (this.awaitedSince === 0) {
      // Learn when the event loop comes round next: the next frames look at how long that takes.
      this.awaitedSince = now;
      setImmediate(this.turn);
    }
    const waitingNow = this.waiting.length - this.head;
    return (waitingNow > 0 || now - this.awaitedSince >= BUSY_MS) && waitingNow < MAX_WAITING;
  }

  private push(entry: Waiting): void {
    this.waiting.push(entry);
    this.options.onDeferred();
    this.options.onSize(this.waiting.length - this.head);
  }

  /** A turn of the event loop: waiting frames run, `perTurn` of them. */
  private readonly turn = (): void => {
    const now = performance.now();
    this.awaitedSince = 0;
    if (this.lastTurnAt > 0) {
      const took = now - this.lastTurnAt;
      if (took > TURN_TARGET_MS) this.perTurn = Math.max(MIN_PER_TURN, Math.floor(this.perTurn / 2));
      else if (took < TURN_TARGET_MS / 2) this.perTurn = Math.min(MAX_PER_TURN, Math.ceil(this.perTurn * 1.25));
    }
    this.lastTurnAt = this.head < this.waiting.length ? now : 0;
    for (let run = 0; run < this.perTurn && this.head < this.waiting.length; ) {
      const entry = this.waiting[this.head];
      this.waiting[this.head++] = undefined as never;
      if (entry.socket === null) {
        entry.upgrade();
        run++;
        continue;
      }
      const { socket, frame } = entry;
      socket.backlogged--;
      if (!socket.isOpen) continue;
      socket.dispatchFrame(frame);
      if (frame.event === EVENTS.join) run++;
    }
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    const left = this.waiting.length - this.head;
    this.options.onSize(left);
    if (left > 0 && this.awaitedSince === 0) {
      this.awaitedSince = performance.now();
      setImmediate(this.turn);
    }
  };
}
