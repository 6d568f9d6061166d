import type { Serializer } from "../../client/codec/serializer.js";
import type { Metrics } from "../ops/metrics.js";
import type { Subscriber, SubscriberSocket } from "../pubsub/subscriber.js";
import type { PresenceMap } from "./diff.js";
import { encodeStateBody, stateHead, type SharedStateBody } from "./state-frame.js";

/** What a member's socket offers beyond a subscriber's: its unread bytes, and a frame in two fragments. */
export interface StateMemberSocket extends SubscriberSocket {
  /** Bytes written to the socket that the kernel did not take yet (uWS's backpressure). */
  readonly bufferedBytes: number;
  /** One message as two fragments, in order with everything else this socket is sent. */
  sendParts(head: string | Uint8Array, tail: Uint8Array, binary: boolean): void;
}

/** A list subscriber that asked for its presence_state through these windows. */
export interface StateMember extends Subscriber {
  readonly joinRef: string;
  readonly socket: StateMemberSocket;
}

export interface PresenceStatesOptions {
  /** The topic's list for a client that gets the diffs from now on (PresenceService.snapshot). */
  snapshot(topic: string): PresenceMap;
  /** Takes a member off the topic's presence_diff stream, or puts it back (LocalFanout.setQuiet). */
  setQuiet(member: Subscriber, quiet: boolean): boolean;
  /** How long a topic's state is reused before it is built again, ms (the wider, the fewer encodings). */
  windowMs(topic: string): number;
  /**
   * A member with more unread bytes than this (its pending presence_state aside) stops getting
   * diffs and gets a fresh presence_state once it has read them (presenceResyncBytes).
   */
  resyncBytes: number;
  /** presence_state bytes written that their clients have not read yet, all topics together; more states wait (presenceStateBudgetBytes). */
  budgetBytes: number;
  metrics: Metrics;
}

interface Room {
  /** Members waiting for a state: joined, or fell behind. Kept off presence_diff meanwhile. */
  readonly waiting: Map<StateMember, "join" | "resync">;
  /** Members that got a state and follow the diffs. */
  readonly synced: Set<StateMember>;
  /** The state last encoded, per serializer, while no diff went out since. */
  cached: { diffs: number; bodies: Map<Serializer, SharedStateBody> } | null;
  /** Diffs delivered to the topic: a cached state is good only while this has not moved. */
  diffs: number;
  /** Earliest time a new state may be encoded. */
  nextStateAt: number;
}

/** How often waiting members and states in flight are looked at while there are any, ms. */
const POLL_MS = 10;
/**
 * State bytes written in one turn of the event loop at most; the rest follow in the next turns.
 * Writing a whole budget at once would hold up every other room for as long as the copy takes.
 */
const BYTES_PER_TURN = 4 * 1024 * 1024;

/**
 * Shared `presence_state` windows: every member of a topic that asks for its state in the same
 * window gets one encoding of it (a per-member head plus the shared body, as two fragments), and
 * is kept off the topic's presence_diff stream until then, since the state covers those diffs.
 * The state is taken with the topic's pending diff marked (PresenceService.snapshot), and the
 * members go back on the diffs right after it, so the state and the diffs after it never disagree.
 *
 * Bounds: states are written only to members whose sockets have read what they were sent
 * before, and only while the states written and not yet read stay within `budgetBytes`; the rest
 * wait (`cinder_presence_state_waiting`). A member whose unread diffs pass `resyncBytes` is
 * taken off the diffs and waits for a fresh state instead: one state the size of the room rather
 * than a backlog that only grows.
 */
export class PresenceStates {
  private readonly rooms = new Map<string, Room>();
  /** Members sent a state their client has not finished reading, with that state's size. */
  private readonly inFlight = new Map<StateMember, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private soon = false;
  private waitingCount = 0;

  constructor(private readonly options: PresenceStatesOptions) {}

  /** `member` wants the topic's presence_state (after its join, usually). */
  request(member: StateMember): void {
    this.enqueue(member, "join");
  }

  /** The member left or its socket closed. */
  forget(member: StateMember): void {
    const room = this.rooms.get(member.topic);
    this.inFlight.delete(member);
    if (!room) return;
    if (room.waiting.delete(member)) this.waitingCount--;
    room.synced.delete(member);
    this.dropIfEmpty(member.topic, room);
    this.updateGauges();
  }

  /**
   * A presence_diff of `topic` is about to go out: members whose unread bytes are over the
   * limit are taken off it first (they get a fresh state later), and cached states expire.
   * Returns how many members of the topic will not get this diff because they wait for a state.
   */
  beforeDiff(topic: string): number {
    const room = this.rooms.get(topic);
    if (!room) return 0;
    room.diffs++;
    room.cached = null;
    for (const member of room.synced) {
      const pendingState = this.inFlight.get(member) ?? 0;
      if (member.socket.bufferedBytes - pendingState <= this.options.resyncBytes) continue;
      this.options.metrics.presenceFellBehind.inc();
      room.synced.delete(member);
      this.inFlight.delete(member);
      this.enqueue(member, "resync");
    }
    return room.waiting.size;
  }

  /** Stops the timer (the server is closing). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private enqueue(member: StateMember, reason: "join" | "resync"): void {
    let room = this.rooms.get(member.topic);
    if (!room) {
      room = { waiting: new Map(), synced: new Set(), cached: null, diffs: 0, nextStateAt: 0 };
      this.rooms.set(member.topic, room);
    }
    if (room.waiting.has(member)) return;
    room.synced.delete(member);
    if (!this.options.setQuiet(member, true)) return; // not an attached list subscriber (it left meanwhile)
    room.waiting.set(member, reason);
    this.waitingCount++;
    this.updateGauges();
    // Members asking in the same turn of the event loop share the first state at once.
    if (!this.soon) {
      clearTimeout(this.timer);
      this.soon = true;
      setImmediate(() => {
        this.soon = false;
        this.poll();
      });
    }
  }

  private poll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    const budget = this.options.budgetBytes - this.readInFlight();
    let turn = Math.min(budget, BYTES_PER_TURN);
    for (const [topic, room] of this.rooms) {
      if (turn <= 0) break;
      // A new encoding at most once per window; the one made already serves until a diff goes out.
      if (room.waiting.size === 0 || (now < room.nextStateAt && room.cached?.diffs !== room.diffs)) continue;
      turn -= this.sendStates(topic, room, turn, now);
    }
    this.updateGauges();
    if (turn <= 0 && budget > BYTES_PER_TURN) {
      // More is ready within the budget: go on after whatever else this thread has to do.
      this.soon = true;
      setImmediate(() => {
        this.soon = false;
        this.poll();
      });
    } else if (this.waitingCount > 0 || this.inFlight.size > 0) {
      this.timer = setTimeout(() => this.poll(), POLL_MS);
      this.timer.unref?.();
    }
  }

  /** Sums what members in flight still have unread; forgets those that read their state. */
  private readInFlight(): number {
    let unread = 0;
    const drained = this.drainedBytes;
    for (const [member, stateBytes] of this.inFlight) {
      const buffered = member.socket.bufferedBytes;
      if (buffered <= drained) this.inFlight.delete(member);
      else unread += Math.min(buffered, stateBytes + this.options.resyncBytes);
    }
    this.options.metrics.presenceStateBytesInFlight.set(unread);
    return unread;
  }

  /** A socket with at most this many unread bytes has read what it was sent: it may get a state. */
  private get drainedBytes(): number {
    return Math.floor(this.options.resyncBytes / 4);
  }

  /** Sends the topic's state to waiting members that are ready, within `budget` bytes; returns the bytes sent. */
  private sendStates(topic: string, room: Room, budget: number, now: number): number {
    const { metrics } = this.options;
    const drained = this.drainedBytes;
    let sent = 0;
    for (const [member, reason] of room.waiting) {
      if (sent >= budget) break;
      if (member.socket.bufferedBytes > drained) continue;
      const body = this.bodyFor(topic, room, member.socket.serializer);
      member.socket.sendParts(stateHead(member.socket.serializer, member.joinRef, topic), body.bytes, body.binary);
      room.waiting.delete(member);
      this.waitingCount--;
      room.synced.add(member);
      this.inFlight.set(member, body.bytes.length);
      // Back on the diffs: the first one it gets holds exactly what came after this state.
      this.options.setQuiet(member, false);
      metrics.presenceStatesSent.inc({ reason });
      sent += body.bytes.length;
    }
    if (sent > 0) room.nextStateAt = now + this.options.windowMs(topic);
    return sent;
  }

  private bodyFor(topic: string, room: Room, serializer: Serializer): SharedStateBody {
    if (room.cached?.diffs !== room.diffs) room.cached = { diffs: room.diffs, bodies: new Map() };
    let body = room.cached.bodies.get(serializer);
    if (!body) {
      const state = this.options.snapshot(topic);
      body = encodeStateBody(serializer, state);
      room.cached.bodies.set(serializer, body);
      this.options.metrics.presenceStateEncodings.inc();
    }
    return body;
  }

  private dropIfEmpty(topic: string, room: Room): void {
    if (room.waiting.size === 0 && room.synced.size === 0) this.rooms.delete(topic);
  }

  private updateGauges(): void {
    this.options.metrics.presenceStateWaiting.set(this.waitingCount);
  }
}
