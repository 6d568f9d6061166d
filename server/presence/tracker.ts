import {
  PresenceSet,
  clockFromWire,
  clockToWire,
  dominates,
  fromWire,
  parseReplicaId,
  toWire,
  type JoinResult,
  type MetaInput,
  type PresenceChanges,
  type PresenceEntry,
  type PresenceSnapshot,
  type ReplicaId,
  type UpdateInput,
  type UpdateResult,
  type VectorClock,
  type WireClock,
} from "../../crdt/index.js";
import { FirstSync, type FirstSyncReport, type FirstSyncView } from "./first-sync.js";
import { parseGossipMessage, type GossipMessage, type HeartbeatMessage } from "./messages.js";
import { ReplicaTable, isOlderIncarnation, type ReplicaInfo } from "./replica-table.js";
import { noGossip, type GossipLane } from "./gossip-lane.js";
import type { ReplicaFigures, TrackerObserver, TransferReason } from "./tracker-observer.js";

export interface TrackerTimings {
  /** Heartbeat tick, ms. */
  broadcastPeriod: number;
  /** Idle ticks before an empty heartbeat is sent anyway. */
  maxSilentPeriods: number;
  /** Silence after which a replica is down (its presences leave), ms. */
  downPeriod: number;
  /** Silence after which a replica is purged for good, ms. */
  permdownPeriod: number;
  /** Ticks between transfer decisions. */
  clockSamplePeriods: number;
  /** The longest a starting replica waits for the other live replicas' state (see FirstSync), ms. */
  firstSyncTimeout: number;
}

export const DEFAULT_TIMINGS: TrackerTimings = {
  broadcastPeriod: 1500,
  maxSilentPeriods: 10,
  downPeriod: 30_000,
  permdownPeriod: 20 * 60_000,
  clockSamplePeriods: 2,
  firstSyncTimeout: 2000,
};

export interface TrackerOptions extends Partial<TrackerTimings> {
  replica: ReplicaId;
  /** How this replica reaches the others (the fabric's gossip lane). Default: nobody. */
  gossip?: GossipLane;
  /** Every visible change, local or replicated, in order. */
  onChanges?: (changes: PresenceChanges) => void;
  /** Malformed gossip and other non-fatal problems. */
  onError?: (error: Error) => void;
  /** The first sync ended (see FirstSync). */
  onFirstSync?: (report: FirstSyncReport) => void;
  /** For the first heartbeat's jitter; defaults to Math.random. */
  random?: () => number;
  /**
   * When > 0, a local change is sent to peers within this many ms instead of waiting for the
   * next tick (changes inside the window travel together). Phoenix waits for the tick, so a
   * join can take up to broadcastPeriod to show on other nodes. 0 = tick only.
   */
  eagerFlushMs?: number;
  /** Told of the gossip as it happens, and of the replica's figures at each tick (metrics). */
  observer?: TrackerObserver;
}

const unobserved: TrackerObserver = {
  deltaSent() {},
  deltaReceived() {},
  transferRequested() {},
  transferSent() {},
  transferReceived() {},
  ticked() {},
};

/**
 * This thread's presence replica: a CRDT replica plus the process around it — periodic
 * heartbeats carrying deltas, transfer requests when a peer is ahead of us, and failure
 * detection by heartbeat silence (down, then permdown). Modelled on Phoenix.Tracker.Shard.
 */
export class Tracker {
  readonly replica: ReplicaId;
  private readonly set: PresenceSet;
  private readonly transport: GossipLane;
  private readonly timings: TrackerTimings;
  private readonly peers = new ReplicaTable();
  /** Latest clock heard from each peer since the last transfer decision. */
  private readonly pendingClocks = new Map<ReplicaId, VectorClock>();
  /**
   * Replicas purged only because they went silent. If one of them speaks again (a
   * netsplit longer than permdownPeriod), it is alive and is let back in. Replicas that
   * left gracefully or were replaced by a newer incarnation never are.
   */
  private readonly purgedForSilence = new Set<ReplicaId>();
  /** When each gone replica was purged here: its id is forgotten once it can no longer matter. */
  private readonly goneAt = new Map<ReplicaId, number>();
  private readonly onChanges: (changes: PresenceChanges) => void;
  private readonly onError: (error: Error) => void;
  private readonly random: () => number;
  private running = false;
  private silentPeriods = 0;
  private ticks = 0;
  private nextRequestId = 1;
  private firstTick: ReturnType<typeof setTimeout> | undefined;
  private interval: ReturnType<typeof setInterval> | undefined;
  private readonly eagerFlushMs: number;
  /** Deltas this replica has sent (see HeartbeatMessage.seq). */
  private deltasSent = 0;
  /** Per peer: how many of its deltas we have, with none missing. */
  private readonly deltasSeen = new Map<ReplicaId, number>();
  /** When we asked a peer for its state after losing one of its deltas (asked again if that got lost too). */
  private readonly gapRequestedAt = new Map<ReplicaId, number>();
  /**
   * Per peer: the highest counter of its own it has advertised (its heartbeats' clocks), to tell
   * how many of its dots we have yet to receive (figures().lag).
   */
  private readonly advertised = new Map<ReplicaId, number>();
  private eagerFlush: ReturnType<typeof setTimeout> | undefined;
  /** The longest a heartbeat read since the last tick had been on its way (figures().gossipDelayMs). */
  private gossipDelayMs = 0;
  private readonly sync: FirstSync;
  private readonly observer: TrackerObserver;

  constructor(options: TrackerOptions) {
    this.replica = options.replica;
    this.set = new PresenceSet(options.replica);
    this.transport = options.gossip ?? noGossip;
    this.timings = { ...DEFAULT_TIMINGS, ...definedOnly(options) };
    validateTimings(this.timings);
    this.onChanges = options.onChanges ?? (() => {});
    this.onError = options.onError ?? (() => {});
    this.random = options.random ?? Math.random;
    this.eagerFlushMs = options.eagerFlushMs ?? 0;
    this.observer = options.observer ?? unobserved;
    this.sync = new FirstSync(this.timings.firstSyncTimeout, options.onFirstSync);
    // Without a lane there is nobody to hear from: nothing to wait for.
    if (!options.gossip) this.sync.listed();
    this.transport.onMessage((message) => this.receive(message));
  }

  /** Whether this replica holds the other live replicas' presences yet (see FirstSync). */
  get firstSync(): FirstSyncView {
    return this.sync;
  }

  // ---- local operations ------------------------------------------------------------

  track(topic: string, key: string, owner: string, meta: MetaInput): JoinResult {
    const result = this.set.join(topic, key, owner, meta);
    if (result.ok) this.emitLocal({ joins: [result.joined], leaves: [] });
    return result;
  }

  update(topic: string, key: string, owner: string, meta: UpdateInput): UpdateResult {
    const result = this.set.update(topic, key, owner, meta);
    if (result.ok) this.emitLocal({ joins: [result.joined], leaves: [result.left] });
    return result;
  }

  untrack(topic: string, key: string, owner: string): void {
    this.emitLocal(this.set.leave(topic, key, owner));
  }

  untrackOwner(owner: string, topic?: string): void {
    this.emitLocal(this.set.leaveOwner(owner, topic));
  }

  /**
   * `replica` is known to be gone for good (its worker crashed, its liveness key expired,
   * it was replaced): drop its presences now, as if it had announced a graceful permdown.
   */
  replicaGone(replica: ReplicaId): void {
    if (replica === this.replica) return;
    this.permdown(replica);
  }

  list(topic: string): Iterable<PresenceEntry> {
    return this.set.iterate(topic);
  }

  /** Every visible entry (for tests and tools). */
  listAll(): PresenceEntry[] {
    return this.set.listAll();
  }

  /**
   * This replica's entries, peers, and lag: the dots its peers have advertised in their latest
   * heartbeats that it has not received (0 once every delta, or a transfer, came). O(peers).
   * A lost delta whose every dot a later delta also covers (an update then a leave) leaves no
   * lag: its sequence number asks for a transfer instead (a "gap" request).
   */
  figures(): ReplicaFigures {
    const context = this.set.causalContext();
    let replicasUp = 0;
    let replicasDown = 0;
    let lag = 0;
    for (const [replica, info] of this.peers.entries()) {
      if (info.status !== "up") {
        replicasDown++;
        continue;
      }
      replicasUp++;
      // Their dots are all theirs, so what we cover of them is what we received (possibly via a third replica).
      lag += Math.max(0, (this.advertised.get(replica) ?? 0) - context.coveredCount(replica));
    }
    return { entries: this.set.size, replicasUp, replicasDown, lag, gossipDelayMs: this.gossipDelayMs };
  }

  /** Status of the peers this replica knows (a copy). */
  replicas(): Map<ReplicaId, ReplicaInfo> {
    return new Map([...this.peers.entries()].map(([id, info]) => [id, { ...info }]));
  }

  /**
   * An outside detector (an expired liveness key) saw `replica` stop: down now, as if it had
   * been silent for downPeriod. Unlike replicaGone it is not final: its next heartbeat, or
   * markUp, brings its presences back.
   */
  markDown(replica: ReplicaId): void {
    this.sync.forget(replica);
    const info = this.peers.get(replica);
    if (!info || info.status !== "up") return;
    info.status = "down";
    this.pendingClocks.delete(replica);
    this.emit(this.set.replicaDown(replica));
  }

  /**
   * The detector sees `replica` alive: a replica marked down is up again now rather than at its
   * next (maybe idle) heartbeat, and one never heard from is watched from now on and asked for
   * its state at once rather than when it next speaks (an idle replica speaks only every
   * maxSilentPeriods ticks). While this replica's first sync lasts, it waits for that state.
   */
  markUp(replica: ReplicaId): void {
    const info = this.peers.get(replica);
    if (info) {
      if (info.status === "down") {
        info.status = "up";
        info.lastHeardAt = Date.now();
        this.emit(this.set.replicaUp(replica));
      }
    } else if (replica === this.replica || this.set.isGone(replica) || !this.admit(replica)) return;
    const awaited = this.sync.expect(replica);
    if ((awaited || !info) && this.running) this.askForOwnState(replica);
  }

  /** The detector has reported every replica alive when it looked: the first sync waits for no others. */
  threadsListed(): void {
    this.sync.listed();
  }

  // ---- lifecycle ---------------------------------------------------------------------

  start(): void {
    if (this.running) return;
    this.running = true;
    this.sync.start();
    for (const replica of this.sync.pending) this.askForOwnState(replica);
    // Jitter the first heartbeat so that replicas started together do not beat together.
    const delay = Math.floor(this.random() * 0.25 * this.timings.broadcastPeriod);
    this.firstTick = setTimeout(() => {
      this.firstTick = undefined;
      this.interval = setInterval(() => this.tick(), this.timings.broadcastPeriod);
      this.interval.unref?.();
      this.tick();
    }, delay);
    this.firstTick.unref?.();
  }

  stop(options: { graceful?: boolean } = {}): void {
    if (!this.running) return;
    if (options.graceful) this.transport.broadcast({ type: "gracefulPermdown", from: this.replica });
    this.running = false;
    this.sync.stop();
    clearTimeout(this.firstTick);
    clearInterval(this.interval);
    clearTimeout(this.eagerFlush);
    this.firstTick = this.interval = this.eagerFlush = undefined;
  }

  // ---- heartbeat tick ----------------------------------------------------------------

  private tick(): void {
    if (this.sendDelta()) {
      this.silentPeriods = 0;
    } else if (++this.silentPeriods >= this.timings.maxSilentPeriods) {
      this.transport.broadcast(this.heartbeat(null));
      this.silentPeriods = 0;
    }
    if (++this.ticks % this.timings.clockSamplePeriods === 0) this.requestTransfers();
    // A request or its answer may have been lost, or reached a replica not started yet.
    for (const replica of this.sync.pending) this.askForOwnState(replica);
    this.detectDowns();
    this.observer.ticked(this.figures());
    this.gossipDelayMs = 0;
  }

  /** Broadcasts the pending delta, if there is one. */
  private sendDelta(): boolean {
    const delta = this.set.takeDelta();
    if (!delta) return false;
    this.deltasSent++;
    this.transport.broadcast(this.heartbeat(delta));
    this.observer.deltaSent(delta.entries.length);
    return true;
  }

  private heartbeat(delta: PresenceSnapshot | null): HeartbeatMessage {
    return {
      type: "heartbeat",
      from: this.replica,
      clock: clockToWire(this.advertisedClock()),
      delta: delta ? toWire(delta) : null,
      seq: this.deltasSent,
      at: Date.now(),
    };
  }

  /**
   * Our clock over ourselves and the peers we see up, with 0 for a peer we know but
   * hold no dots of: a transfer to us is restricted to exactly these replicas. Down
   * peers are left out, or everybody would keep asking everybody for state until the
   * down peer is purged (phoenix_pubsub #135).
   */
  private advertisedClock(): Map<ReplicaId, number> {
    const context = this.set.causalContext();
    const clock = new Map<ReplicaId, number>([[this.replica, context.clockOf(this.replica)]]);
    for (const replica of this.peers.upReplicas()) clock.set(replica, context.clockOf(replica));
    return clock;
  }

  /**
   * Ask for state from each peer whose clock ours does not dominate, skipping a peer
   * whose clock another candidate already covers: one transfer from the most advanced
   * peer brings everything the others would.
   */
  private requestTransfers(): void {
    const ours = this.advertisedClock();
    const relevant = (replica: ReplicaId): boolean => replica === this.replica || this.peers.isUp(replica);
    const behind: Array<[ReplicaId, Map<ReplicaId, number>]> = [];
    for (const [peer, clock] of this.pendingClocks) {
      if (!this.peers.isUp(peer)) continue;
      const theirs = new Map([...clock].filter(([replica]) => relevant(replica)));
      if (!dominates(ours, theirs)) behind.push([peer, theirs]);
    }
    this.pendingClocks.clear();
    for (const [peer, clock] of behind) {
      const covered = behind.some(
        ([other, otherClock]) =>
          other !== peer && dominates(otherClock, clock) && (!dominates(clock, otherClock) || other < peer),
      );
      if (covered) continue;
      this.requestTransfer(peer, clockToWire(ours), "behind");
    }
  }

  private requestTransfer(peer: ReplicaId, clock: WireClock, reason: TransferReason): void {
    this.transport.sendTo(peer, { type: "transferRequest", from: this.replica, requestId: this.nextRequestId++, clock });
    this.observer.transferRequested(reason);
  }

  /**
   * Asks `replica` for its own presences only (the request names just it and us): asked of every
   * live replica at a start, the answers together are the cluster's state, each presence sent
   * once, by the replica that holds it.
   */
  private askForOwnState(replica: ReplicaId): void {
    const context = this.set.causalContext();
    const clock = new Map([
      [this.replica, context.clockOf(this.replica)],
      [replica, context.clockOf(replica)],
    ]);
    this.requestTransfer(replica, clockToWire(clock), "start");
  }

  /**
   * Every live peer purges a silent replica within permdownPeriod of its last message, and a
   * gone replica sends nothing: twice that after we purged it, no copy of its dots is left to
   * come back, and remembering its id forever would only grow memory with every restart.
   */
  private forgetLongGone(now: number): void {
    for (const [replica, at] of this.goneAt) {
      if (now - at <= 2 * this.timings.permdownPeriod) continue;
      this.goneAt.delete(replica);
      this.purgedForSilence.delete(replica);
      this.set.forgetGone(replica);
    }
  }

  /** Gone replicas still remembered (their late messages are ignored). */
  get goneReplicaCount(): number {
    return this.set.goneCount;
  }

  private detectDowns(): void {
    const now = Date.now();
    this.forgetLongGone(now);
    for (const [replica, info] of [...this.peers.entries()]) {
      const silence = now - info.lastHeardAt;
      if (silence > this.timings.permdownPeriod) this.permdown(replica, { silent: true });
      else if (silence > this.timings.downPeriod && info.status === "up") {
        info.status = "down";
        this.emit(this.set.replicaDown(replica));
      }
    }
  }

  // ---- receiving ---------------------------------------------------------------------

  private receive(raw: unknown): void {
    if (!this.running) return;
    try {
      const message = parseGossipMessage(raw);
      if (message.from === this.replica) return;
      if (this.set.isGone(message.from)) {
        if (message.type !== "heartbeat" || !this.purgedForSilence.delete(message.from)) return;
        this.set.replicaRevive(message.from);
        this.goneAt.delete(message.from);
      }
      switch (message.type) {
        case "heartbeat": {
          const clock = clockFromWire(message.clock);
          const delta = message.delta ? fromWire(message.delta) : null;
          if (!this.heardFrom(message.from)) return;
          if (message.at !== undefined) this.gossipDelayMs = Math.max(this.gossipDelayMs, Date.now() - message.at);
          if (delta) {
            this.emit(this.set.merge(delta));
            this.observer.deltaReceived(delta.entries.length);
          }
          this.pendingClocks.set(message.from, clock);
          const own = clock.get(message.from) ?? 0;
          if (own > (this.advertised.get(message.from) ?? 0)) this.advertised.set(message.from, own);
          this.checkDeltaSequence(message.from, message.seq, delta !== null);
          break;
        }
        case "transferRequest": {
          const state = this.set.extract(clockFromWire(message.clock).keys());
          this.transport.sendTo(message.from, {
            type: "transferAck",
            from: this.replica,
            requestId: message.requestId,
            state: toWire(state),
            seq: this.deltasSent,
          });
          this.observer.transferSent(state.entries.length);
          break;
        }
        case "transferAck": {
          const state = fromWire(message.state);
          this.emit(this.set.merge(state));
          this.adoptUnknownReplicas(state);
          // The state holds everything the sender had produced: no delta of it is missing now.
          this.deltasSeen.set(message.from, Math.max(this.deltasSeen.get(message.from) ?? 0, message.seq));
          this.gapRequestedAt.delete(message.from);
          this.sync.answered(message.from);
          this.observer.transferReceived(state.entries.length);
          break;
        }
        case "gracefulPermdown":
          this.permdown(message.from);
          break;
      }
    } catch (error) {
      this.onError(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Replica lifecycle on a heartbeat. Returns false when the sender is an outdated
   * incarnation whose message must be ignored.
   */
  private heardFrom(replica: ReplicaId): boolean {
    const now = Date.now();
    const known = this.peers.get(replica);
    if (known) {
      known.lastHeardAt = now;
      if (known.status === "down") {
        known.status = "up";
        this.emit(this.set.replicaUp(replica));
      }
      return true;
    }
    if (!this.admit(replica)) return false;
    // Introduce ourselves right away so a newcomer need not wait for our next idle heartbeat.
    this.transport.sendTo(replica, this.heartbeat(null));
    return true;
  }

  /**
   * A replica heard of for the first time (its heartbeat, or the detector): watched from now on.
   * Returns false when it is an outdated incarnation, to be ignored.
   */
  private admit(replica: ReplicaId): boolean {
    if (parseReplicaId(replica).nodeName === parseReplicaId(this.replica).nodeName) {
      // Another incarnation of this very node: an older one is our previous life.
      if (isOlderIncarnation(replica, this.replica)) this.permdown(replica);
      else this.onError(new Error(`presence: replica ${replica} uses this node's name with a newer incarnation`));
      return false;
    }
    const previous = this.peers.otherIncarnationOf(replica);
    if (previous !== undefined) {
      if (isOlderIncarnation(replica, previous)) {
        this.permdown(replica); // a late message from a previous life
        return false;
      }
      this.permdown(previous); // the node restarted
    }
    this.peers.add(replica, Date.now());
    this.emit(this.set.replicaUp(replica));
    return true;
  }

  /**
   * Deltas of one sender are numbered. If one went missing (dropped, or sent before we knew
   * the sender), merging the later ones is still safe, but our clock may end up covering dots
   * whose removal only the lost delta carried, and no clock comparison would ever notice. So a
   * jump in the numbers asks the sender for its state right away.
   */
  private checkDeltaSequence(peer: ReplicaId, seq: number, carriedDelta: boolean): void {
    const seen = this.deltasSeen.get(peer) ?? 0;
    const expected = carriedDelta ? seen + 1 : seen;
    if (seq <= seen) return; // a duplicate or a late copy
    if (seq === expected) {
      this.deltasSeen.set(peer, seq);
      return;
    }
    const now = Date.now();
    const askedAt = this.gapRequestedAt.get(peer);
    if (askedAt !== undefined && now - askedAt < 2 * this.timings.broadcastPeriod) return;
    this.gapRequestedAt.set(peer, now);
    this.requestTransfer(peer, clockToWire(this.advertisedClock()), "gap");
  }

  /** A state can name replicas we never heard from; watch them like any other, so silence still hides them. */
  private adoptUnknownReplicas(state: PresenceSnapshot): void {
    const now = Date.now();
    for (const replica of state.context.replicas()) {
      if (replica === this.replica || this.peers.get(replica) || this.set.isGone(replica)) continue;
      if (this.peers.otherIncarnationOf(replica) !== undefined) continue;
      this.peers.add(replica, now);
    }
  }

  private permdown(replica: ReplicaId, reason: { silent: boolean } = { silent: false }): void {
    this.sync.forget(replica);
    if (reason.silent) this.purgedForSilence.add(replica);
    else this.purgedForSilence.delete(replica);
    this.emit(this.set.replicaPermdown(replica));
    if (replica !== this.replica) this.goneAt.set(replica, Date.now());
    this.peers.delete(replica);
    this.pendingClocks.delete(replica);
    this.deltasSeen.delete(replica);
    this.gapRequestedAt.delete(replica);
    this.advertised.delete(replica);
  }

  /** A local change: report it, and send it early when eager flushing is on. */
  private emitLocal(changes: PresenceChanges): void {
    this.emit(changes);
    if (this.eagerFlushMs > 0 && this.running && this.eagerFlush === undefined && this.set.hasPendingDelta()) {
      this.eagerFlush = setTimeout(() => {
        this.eagerFlush = undefined;
        if (this.sendDelta()) this.silentPeriods = 0;
      }, this.eagerFlushMs);
      this.eagerFlush.unref?.();
    }
  }

  private emit(changes: PresenceChanges): void {
    if (changes.joins.length > 0 || changes.leaves.length > 0) this.onChanges(changes);
  }
}

function definedOnly(options: Partial<TrackerTimings>): Partial<TrackerTimings> {
  const result: Partial<TrackerTimings> = {};
  for (const name of Object.keys(DEFAULT_TIMINGS) as Array<keyof TrackerTimings>) {
    if (options[name] !== undefined) result[name] = options[name];
  }
  return result;
}

function validateTimings(t: TrackerTimings): void {
  const positive = Object.entries(t).every(([, value]) => Number.isFinite(value) && value > 0);
  if (!positive) throw new Error("presence tracker: every period must be a positive number");
  if (t.downPeriod < 2 * t.broadcastPeriod) throw new Error("presence tracker: downPeriod must be at least 2 × broadcastPeriod");
  if (t.permdownPeriod <= t.downPeriod) throw new Error("presence tracker: permdownPeriod must exceed downPeriod");
}
