import type { PresenceMetrics } from "./presence-metrics.js";
import { intercepts } from "../pubsub/local-fanout.js";
import type { Subscriber } from "../pubsub/subscriber.js";
import type { PresenceDiff, PresenceMap } from "./diff.js";
import { CatchUpTurns } from "./catch-up-turns.js";
import { DiffLog } from "./diff-log.js";
import type { FirstSyncView } from "./first-sync.js";
import type { StateFrame, StateMemberSocket } from "./state-member-socket.js";
import { DIFF_EVENT, PART_BYTES, StateSnapshot, stateHead, type PartFrame } from "./state-parts.js";

export type { StateFrame, StateMemberSocket } from "./state-member-socket.js";

/** A list subscriber that asked for its presence_state through these streams. */
export interface StateMember extends Subscriber {
  readonly joinRef: string;
  readonly socket: StateMemberSocket;
}

export interface PresenceStatesOptions {
  /** The topic's list for a client that gets the diffs from now on (PresenceService.snapshot). */
  snapshot(topic: string): PresenceMap;
  /** Takes a member off the topic's presence_diff stream, or puts it back (LocalFanout.setQuiet). */
  setQuiet(member: Subscriber, quiet: boolean): boolean;
  /**
   * A synced member with more unread bytes than this stops getting diffs and catches up again
   * from a fresh list (presenceResyncBytes). Also the least a topic's diff log may hold.
   */
  resyncBytes: number;
  /**
   * The replica's first sync (PresenceService.firstSync): until it is over, members wait for
   * their presence_state, which would otherwise lack the other replicas' presences. Default: over.
   */
  firstSync?: FirstSyncView;
  /** Bytes one member is written at once, about: its frames then go out in a single write (catchUpBatchBytes). */
  batchBytes: number;
  /**
   * The topic's list enriched by its channel's presence fetch (never rejects: the raw list when
   * the fetch fails), or undefined when the topic has none. Called once per snapshot.
   */
  enrich?(topic: string, list: PresenceMap): Promise<PresenceMap> | undefined;
  metrics: PresenceMetrics;
}

/** Where a member catching up is: the parts of its snapshot, then the diffs logged since it. */
interface Cursor {
  readonly reason: "join" | "resync";
  /** The snapshot whose parts it is being sent; null before the first part and after the last. */
  snapshot: StateSnapshot | null;
  started: boolean;
  part: number;
  /** The next logged diff it gets once the parts are sent. */
  seq: number;
}

interface PresenceTopic {
  readonly topic: string;
  /** Members catching up, kept off the topic's presence_diff stream meanwhile. */
  readonly catchingUp: Map<StateMember, Cursor>;
  /** Members that caught up and follow the diffs. */
  readonly synced: Set<StateMember>;
  /** Members that asked before the replica's first sync was over, kept off the diffs meanwhile. */
  readonly waitingForSync: Set<StateMember>;
  /** The snapshot members start on while the diffs since it cost less than a new one. */
  latest: StateSnapshot | null;
  /** The diffs delivered since the oldest position a member catching up needs. */
  readonly log: DiffLog;
  /** When its synced members' unread bytes were last looked at. */
  sweptAt: number;
}

/** How often a topic's synced members are looked at for unread bytes past resyncBytes, at most, ms. */
const SWEEP_MS = 100;

/**
 * How a member gets a topic's list (`pushPresenceState`) without the server holding it: the
 * list is a snapshot split into parts of at most PART_BYTES (a `presence_state` with the first
 * keys, then `presence_diff`s joining the rest), followed by the diffs the topic delivered since
 * the snapshot, taken from the topic's diff log; the member is kept off the topic's presence_diff
 * stream meanwhile, and goes back on it in the same turn as it is sent the last logged diff. Every
 * member of a topic starts on the same snapshot until the diffs since it outweigh it, so a storm
 * of joins costs a few encodings of the list, not one per member.
 *
 * A member is written only while its socket takes more without the server holding it (nothing
 * unread in uWS), one batch at a time, when its turn comes (CatchUpTurns), so the list lives in
 * memory once per snapshot, not once per member, however slowly clients read it.
 *
 * Bounds: a topic holds its live snapshots and a diff log of at most the larger of
 * `resyncBytes` and four times its latest list; a member that needs diffs dropped from the log
 * starts again from a fresh list. A synced member whose unread bytes pass `resyncBytes` is taken
 * off the diffs and catches up again: one list rather than a backlog that only grows.
 *
 * A replica that just started holds only its own presences: members that ask before its first
 * sync is over (`firstSync`) wait, off the diffs, and get in line once it is (bounded by the
 * members, and in time by the first sync's own bound).
 */
export class PresenceStates {
  private readonly topics = new Map<string, PresenceTopic>();
  /** Topics with members catching up. */
  private readonly busy = new Set<PresenceTopic>();
  /** Topics whose logs may hold diffs nobody needs any more. */
  private readonly untrimmed = new Set<PresenceTopic>();
  /** Snapshots members are being sent, with how many members. */
  private readonly live = new Map<StateSnapshot, number>();
  /** Whose catch-up is written next. */
  private readonly turns = new CatchUpTurns<StateMember>({
    begin: (member) => this.withCursor(member, (entry, cursor) => this.start(entry, cursor)),
    write: (member) => this.withCursor(member, (entry, cursor) => this.writeBatch(entry, member, cursor)) ?? 0,
    stalled: (member) => this.withCursor(member, (_room, cursor) => this.stalled(cursor)),
    afterRound: () => {
      for (const entry of this.untrimmed) this.trimLog(entry);
      this.untrimmed.clear();
      this.updateGauges();
      this.updateHeld();
    },
  });

  /** Members waiting for the first sync, in every topic, in the order they asked. */
  private readonly waitingForSync = new Set<StateMember>();

  constructor(private readonly options: PresenceStatesOptions) {
    options.firstSync?.whenDone(() => this.afterFirstSync());
  }

  /** `member` wants the topic's presence_state (after its join, usually). */
  request(member: StateMember): void {
    this.enqueue(member, "join");
  }

  /** The member left or its socket closed. */
  forget(member: StateMember): void {
    const entry = this.topics.get(member.topic);
    if (!entry) return;
    const cursor = entry.catchingUp.get(member);
    if (cursor) this.settle(entry, member, cursor);
    entry.waitingForSync.delete(member);
    this.waitingForSync.delete(member);
    entry.synced.delete(member);
    this.dropIfIdle(entry);
    this.updateGauges();
  }

  /** The socket took what it had unread: its members catching up may be written again (or start). */
  drained(socket: StateMemberSocket): void {
    this.turns.drained(socket);
  }

  /**
   * `diff` of `topic` is about to go out: it is logged for the members catching up, and synced
   * members whose unread bytes are over the limit are taken off it first (they catch up again).
   * Returns how many members of the topic will not get it because they are catching up.
   */
  beforeDiff(topic: string, diff: PresenceDiff): number {
    const entry = this.topics.get(topic);
    if (!entry) return 0;
    const now = Date.now();
    // Every member, but not at every diff: a storm sends many diffs to a big topic in a second.
    if (now - entry.sweptAt >= SWEEP_MS) {
      entry.sweptAt = now;
      for (const member of entry.synced) {
        if (member.socket.bufferedBytes <= this.options.resyncBytes) continue;
        this.options.metrics.presenceFellBehind.inc();
        this.enqueue(member, "resync");
      }
    }
    if (entry.catchingUp.size > 0) {
      entry.log.append(diff);
      this.boundLog(entry);
    }
    return entry.catchingUp.size + entry.waitingForSync.size;
  }

  /** Stops the timer (the server is closing). */
  stop(): void {
    this.turns.stop();
  }

  private enqueue(member: StateMember, reason: Cursor["reason"]): void {
    let entry = this.topics.get(member.topic);
    if (!entry) {
      entry = { topic: member.topic, catchingUp: new Map(), synced: new Set(), waitingForSync: new Set(), latest: null, log: new DiffLog(member.topic), sweptAt: 0 };
      this.topics.set(member.topic, entry);
    }
    if (entry.catchingUp.has(member) || entry.waitingForSync.has(member)) return;
    entry.synced.delete(member);
    if (!this.options.setQuiet(member, true)) return this.dropIfIdle(entry); // not an attached list subscriber (it left meanwhile)
    if (this.options.firstSync?.done === false) {
      entry.waitingForSync.add(member);
      this.waitingForSync.add(member);
      this.options.metrics.presenceStateSyncWaits.inc();
      return this.updateGauges();
    }
    entry.catchingUp.set(member, { reason, snapshot: null, started: false, part: 0, seq: 0 });
    this.busy.add(entry);
    this.turns.add(member);
    this.updateGauges();
  }

  /** The first sync is over: members waiting for it get in line, in the order they asked (a snapshot now lists every replica's presences). */
  private afterFirstSync(): void {
    const waiting = [...this.waitingForSync];
    this.waitingForSync.clear();
    for (const member of waiting) {
      this.topics.get(member.topic)?.waitingForSync.delete(member);
      this.enqueue(member, "join");
    }
    this.updateGauges();
  }

  private withCursor<T>(member: StateMember, use: (entry: PresenceTopic, cursor: Cursor) => T): T | undefined {
    const entry = this.topics.get(member.topic);
    const cursor = entry?.catchingUp.get(member);
    return entry && cursor ? use(entry, cursor) : undefined;
  }

  /** Writes the member's next frames, up to batchBytes; returns the bytes written. */
  private writeBatch(entry: PresenceTopic, member: StateMember, cursor: Cursor): number {
    const { serializer } = member.socket;
    const intercepted = intercepts(member.handler, DIFF_EVENT);
    // The log lost diffs it needs (boundLog): again from a snapshot, part 0 on.
    if (!entry.log.holds(cursor.seq)) {
      this.options.metrics.presenceStateRestarts.inc({ reason: "log" });
      this.start(entry, cursor);
    }
    // Its snapshot's enriched list has not come yet: nothing to send (it is woken when it comes).
    if (cursor.snapshot?.pending) return 0;
    const frames: StateFrame[] = [];
    let bytes = 0;
    const add = (frame: PartFrame, head?: string | Uint8Array): boolean => {
      if (frames.length > 0 && bytes + frame.bytes > this.options.batchBytes) return false;
      frames.push(head === undefined ? frame : { head, data: frame.data, binary: frame.binary });
      bytes += frame.bytes;
      return true;
    };
    // A handler that intercepts presence_diff (handle_out) sees every diff the member is sent.
    const out = (frame: PartFrame, payload: () => PresenceDiff): boolean => {
      if (!intercepted) return add(frame);
      member.socket.sendFrames(frames.splice(0));
      const { joins, leaves } = payload();
      member.deliverOut(DIFF_EVENT, { joins, leaves });
      bytes += frame.bytes;
      return true;
    };
    for (;;) {
      const snapshot = cursor.snapshot;
      if (snapshot) {
        const index = cursor.part;
        const frame = snapshot.part(serializer, index);
        const taken = index === 0 ? add(frame, stateHead(serializer, member.joinRef, entry.topic)) : out(frame, () => ({ joins: snapshot.parts[index], leaves: {} }));
        if (!taken) break;
        if (index === 0) this.options.metrics.presenceStatesSent.inc({ reason: cursor.reason });
        if (++cursor.part === snapshot.parts.length) this.release(cursor);
        if (bytes >= this.options.batchBytes) break;
      } else if (cursor.seq < entry.log.next) {
        const seq = cursor.seq;
        if (!out(entry.log.frame(seq, serializer), () => entry.log.diff(seq))) break;
        cursor.seq++;
        if (bytes >= this.options.batchBytes) break;
      } else break;
    }
    member.socket.sendFrames(frames);
    if (!cursor.snapshot && cursor.seq === entry.log.next) this.caughtUp(entry, member, cursor);
    return bytes;
  }

  /** Puts the member on the topic's latest snapshot, or a new one when the diffs since it outweigh it. */
  private start(entry: PresenceTopic, cursor: Cursor): void {
    this.release(cursor);
    const latest = entry.latest;
    let snapshot: StateSnapshot;
    // A snapshot still being enriched is shared by whoever asks meanwhile: one fetch, not one per member.
    if (latest && entry.log.holds(latest.seq) && (latest.pending || entry.log.bytesSince(latest.seq) <= latest.bytes)) snapshot = latest;
    else {
      const list = this.options.snapshot(entry.topic);
      const enriched = this.options.enrich?.(entry.topic, list);
      snapshot = new StateSnapshot(entry.topic, entry.log.next, list, enriched !== undefined);
      if (enriched) void enriched.then((filled) => this.filled(entry, snapshot, filled));
      entry.latest = snapshot;
      this.options.metrics.presenceStateEncodings.inc();
    }
    cursor.snapshot = snapshot;
    cursor.started = true;
    cursor.part = 0;
    cursor.seq = snapshot.seq;
    this.live.set(snapshot, (this.live.get(snapshot) ?? 0) + 1);
  }

  /** A snapshot's enriched list came: the members started on it are written again. */
  private filled(entry: PresenceTopic, snapshot: StateSnapshot, list: PresenceMap): void {
    snapshot.fill(list);
    for (const [member, cursor] of entry.catchingUp) if (cursor.snapshot === snapshot) this.turns.drained(member.socket);
  }

  /** Its client read nothing for a while and it gave up its turn: it starts afresh when its turn comes again. */
  private stalled(cursor: Cursor): void {
    this.options.metrics.presenceStateRestarts.inc({ reason: "stalled" });
    this.release(cursor);
    cursor.started = false;
  }

  /** The member was sent every part of its snapshot (or no longer needs it). */
  private release(cursor: Cursor): void {
    const snapshot = cursor.snapshot;
    if (!snapshot) return;
    cursor.snapshot = null;
    const count = (this.live.get(snapshot) ?? 1) - 1;
    if (count > 0) this.live.set(snapshot, count);
    else this.live.delete(snapshot);
  }

  /** Sent everything up to the last diff logged: back on the topic's diffs, in this same turn. */
  private caughtUp(entry: PresenceTopic, member: StateMember, cursor: Cursor): void {
    this.settle(entry, member, cursor);
    entry.synced.add(member);
    this.options.setQuiet(member, false);
    // The log may lose what only this member still needed: looked at once per pump (trimLog is O(members)).
    this.untrimmed.add(entry);
  }

  /** No longer catching up: forgets its cursor. */
  private settle(entry: PresenceTopic, member: StateMember, cursor: Cursor): void {
    this.turns.remove(member);
    this.release(cursor);
    entry.catchingUp.delete(member);
    if (entry.catchingUp.size === 0) {
      this.busy.delete(entry);
      entry.log.clear();
      entry.latest = null;
    }
  }

  /** Drops the diffs no member catching up needs any more. */
  private trimLog(entry: PresenceTopic): void {
    let needed = entry.latest?.seq ?? entry.log.next;
    for (const cursor of entry.catchingUp.values()) if (cursor.started) needed = Math.min(needed, cursor.seq);
    entry.log.trimBefore(needed);
  }

  /** Over its bound, the log loses its oldest diffs; members that needed them start again (writeBatch). */
  private boundLog(entry: PresenceTopic): void {
    const limit = Math.max(this.options.resyncBytes, 4 * (entry.latest?.bytes ?? 0));
    if (entry.log.bytes <= limit) return;
    this.trimLog(entry);
    while (entry.log.bytes > limit) entry.log.trimBefore(entry.log.oldest + 1);
  }

  private dropIfIdle(entry: PresenceTopic): void {
    if (entry.catchingUp.size === 0 && entry.synced.size === 0 && entry.waitingForSync.size === 0) this.topics.delete(entry.topic);
  }

  private updateGauges(): void {
    this.options.metrics.presenceStateWaiting.set(this.turns.size + this.waitingForSync.size);
  }

  private updateHeld(): void {
    let held = 0;
    for (const snapshot of this.live.keys()) held += snapshot.bytes;
    for (const entry of this.busy) held += entry.log.bytes + (entry.latest && !this.live.has(entry.latest) ? entry.latest.bytes : 0);
    this.options.metrics.presenceStateBytesHeld.set(held);
  }
}
