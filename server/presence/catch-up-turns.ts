import type { StateMemberSocket } from "./state-member-socket.js";

/** What the turns need of a member catching up: its socket. */
export interface TurnMember {
  readonly socket: StateMemberSocket;
}

/** The work of a member's turn (PresenceStates). */
export interface CatchUpWork<M> {
  /** Its turn came: it starts, on a snapshot. */
  begin(member: M): void;
  /**
   * Writes its next batch (its socket takes more); returns the bytes written. It may finish
   * (`remove`). 0 means it has nothing to write yet: it waits to be made ready (`drained`).
   */
  write(member: M): number;
  /** Its client read nothing for STALL_MS: it is back in line, to begin again when its turn comes. */
  stalled(member: M): void;
  /** A round of writes ended. */
  afterRound(): void;
}

/**
 * How often members are looked at while there are any, ms: for a socket that takes more again
 * without having said so (a socket says it through `drained`: uWS's drain, a LongPoll poll, a
 * write queue emptied), and for streams that stalled.
 */
const POLL_MS = 100;
/** A started member whose socket took nothing for this long gives up its stream to the next in line, ms. */
export const STALL_MS = 5000;
/**
 * Bytes written in one turn of the event loop at most; the rest follow in the next turns, so a
 * storm in one room never holds up the thread for longer than this takes to copy.
 */
const BYTES_PER_ROUND = 256 * 1024;
/**
 * Members being written their catch-up at once, per thread; the others wait their turn in order.
 * More at once makes no list arrive sooner (the thread's writes are the limit), but every one of
 * them makes its socket drain, each drain a write and a call into JS in the event loop; fewer
 * would let a few slow clients hold up the rest.
 */
export const MAX_STREAMS = 64;
/** Members at the head of the line that cannot take more, passed over at most per look. */
const MAX_PASSED_OVER = 64;

/**
 * Whose catch-up is written next, on a thread: members wait in line in the order they asked;
 * at most MAX_STREAMS have begun; a begun member is written a batch at a time while its socket
 * takes more, in turn with the others, at most BYTES_PER_ROUND per turn of the event loop; a
 * socket that drains makes its members ready again; a member whose client read nothing for
 * STALL_MS goes back in line, so clients that stopped reading never hold every stream.
 */
export class CatchUpTurns<M extends TurnMember> {
  /** Members that have not begun, in the order they asked. */
  private readonly line = new Set<M>();
  /** Members that began, with when their socket last took a batch. */
  private readonly begun = new Map<M, number>();
  /** Begun members to write to in the next round, in turn. */
  private readonly ready = new Set<M>();
  /** Members by socket: a drained socket makes them ready. */
  private readonly bySocket = new Map<StateMemberSocket, Set<M>>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private soon = false;

  constructor(private readonly work: CatchUpWork<M>) {}

  /** Members in line or begun. */
  get size(): number {
    return this.line.size + this.begun.size;
  }

  /** `member` gets in line (members asking in the same turn begin on the same snapshot). */
  add(member: M): void {
    this.line.add(member);
    let members = this.bySocket.get(member.socket);
    if (!members) this.bySocket.set(member.socket, (members = new Set()));
    members.add(member);
    if (!this.timer) {
      this.timer = setInterval(() => this.poll(), POLL_MS);
      this.timer.unref?.();
    }
    this.roundSoon();
  }

  /** It caught up, left, or its socket closed. */
  remove(member: M): void {
    this.line.delete(member);
    this.begun.delete(member);
    this.ready.delete(member);
    const members = this.bySocket.get(member.socket);
    members?.delete(member);
    if (members?.size === 0) this.bySocket.delete(member.socket);
  }

  /** The socket took what it had unread: its begun members may be written again, and those in line begin. */
  drained(socket: StateMemberSocket): void {
    const members = this.bySocket.get(socket);
    if (!members || !socket.canTakeMore) return;
    for (const member of members) if (this.begun.has(member)) this.ready.add(member);
    this.roundSoon();
  }

  /** Stops the timer (the server is closing). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private roundSoon(): void {
    if (this.soon) return;
    this.soon = true;
    setImmediate(() => {
      this.soon = false;
      this.round();
    });
  }

  /** Writes to ready members in turn, a batch each, until BYTES_PER_ROUND. */
  private round(): void {
    let budget = BYTES_PER_ROUND;
    this.admit();
    for (const member of this.ready) {
      if (budget <= 0) break;
      this.ready.delete(member);
      if (!this.begun.has(member) || !member.socket.canTakeMore) continue;
      const wrote = this.work.write(member);
      budget -= wrote;
      if (!this.begun.has(member)) this.admit(); // it finished: the next in line begins
      else {
        this.begun.set(member, Date.now());
        // The socket took it all: its turn comes again after the others'. Nothing to write yet
        // (its snapshot is being enriched): it is made ready again when there is (`drained`).
        if (wrote > 0 && member.socket.canTakeMore) this.ready.add(member);
      }
    }
    this.work.afterRound();
    if (this.ready.size > 0) this.roundSoon();
  }

  /** Members at the head of the line begin while there is room for more streams. */
  private admit(): void {
    let passedOver = 0;
    for (const member of this.line) {
      if (this.begun.size >= MAX_STREAMS || passedOver >= MAX_PASSED_OVER) return;
      this.line.delete(member);
      // Its socket has not read what it was sent before: the next in line goes first, and it
      // goes to the back of the line so a head of stalled clients never holds up the rest.
      if (!member.socket.canTakeMore) {
        passedOver++;
        this.line.add(member);
        continue;
      }
      this.begun.set(member, Date.now());
      this.work.begin(member);
      this.ready.add(member);
    }
  }

  /** Begun members whose sockets take more again without having said so, and stalled ones. */
  private poll(): void {
    if (this.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = Date.now();
    for (const [member, wroteAt] of this.begun) {
      if (member.socket.canTakeMore) this.ready.add(member);
      else if (now - wroteAt > STALL_MS) {
        this.begun.delete(member);
        this.ready.delete(member);
        this.line.add(member);
        this.work.stalled(member);
      }
    }
    this.roundSoon();
  }
}
