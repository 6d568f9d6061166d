import type { ReplicaId } from "../../crdt/index.js";

/** How a replica's first sync ended: every live replica answered, or the bound ran out first. */
export type FirstSyncOutcome = "complete" | "timeout";

/** What a replica's first sync reports when it ends. */
export interface FirstSyncReport {
  outcome: FirstSyncOutcome;
  /** Live replicas whose state had not come (empty when complete). */
  missing: ReplicaId[];
  /** Whether the live replicas had been listed by then (false: Redis did not answer in time, so `missing` is unknown). */
  listed: boolean;
  /** From the replica's start, ms. */
  ms: number;
}

/** How others see a replica's first sync: whether it is over, and a call when it is. */
export interface FirstSyncView {
  readonly done: boolean;
  /** `listener` runs once the first sync is over (at once if it already is). */
  whenDone(listener: () => void): void;
}

/**
 * A replica's first sync: a replica that starts holds nobody else's presences, and a list it
 * served now would say the room is empty. So it waits until the fabric has listed every live
 * replica (`listed`, from the liveness keys) and each of those has sent its state (`answered`),
 * and a replica that went down or is gone meanwhile is no longer waited for (`forget`). Bounded:
 * `timeoutMs` after the start it is over anyway, with what came, so a peer that is dead but
 * still listed, or a Redis out of reach, delays a starting replica's lists by that much at most.
 * Only the first sync is waited for: replicas that appear later send their state as usual.
 * Its sets hold live replicas only (as listed), and are emptied when it is over.
 */
export class FirstSync implements FirstSyncView {
  private listedYet = false;
  private readonly awaited = new Set<ReplicaId>();
  /** Replicas whose state came during the first sync (not waited for again). */
  private readonly answers = new Set<ReplicaId>();
  private startedAt: number | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private outcome: FirstSyncOutcome | undefined;
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly timeoutMs: number,
    private readonly onDone: (report: FirstSyncReport) => void = () => {},
  ) {}

  get done(): boolean {
    return this.outcome !== undefined;
  }

  /** Live replicas whose state has not come yet. */
  get pending(): readonly ReplicaId[] {
    return this.done ? [] : [...this.awaited];
  }

  whenDone(listener: () => void): void {
    if (this.done) listener();
    else this.listeners.push(listener);
  }

  /** The replica starts: the bound runs from now. */
  start(): void {
    if (this.startedAt !== undefined || this.done) return;
    this.startedAt = Date.now();
    this.timer = setTimeout(() => this.finish("timeout"), this.timeoutMs);
    this.timer.unref?.();
  }

  /** The replica stops: no outcome any more (nobody waits on a stopped replica). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** `replica` is live: its state is to come. Returns whether it is waited for (not over, not come yet). */
  expect(replica: ReplicaId): boolean {
    if (this.done || this.answers.has(replica)) return false;
    this.awaited.add(replica);
    return true;
  }

  /** Every replica live when the fabric looked has been expected. */
  listed(): void {
    this.listedYet = true;
    this.check();
  }

  /** `replica`'s state came. */
  answered(replica: ReplicaId): void {
    if (this.done) return;
    this.answers.add(replica);
    if (this.awaited.delete(replica)) this.check();
  }

  /** `replica` went down or is gone: its state is not waited for. */
  forget(replica: ReplicaId): void {
    if (this.awaited.delete(replica)) this.check();
  }

  private check(): void {
    if (this.listedYet && this.awaited.size === 0) this.finish("complete");
  }

  private finish(outcome: FirstSyncOutcome): void {
    if (this.done) return;
    this.outcome = outcome;
    clearTimeout(this.timer);
    this.timer = undefined;
    const missing = [...this.awaited];
    this.awaited.clear();
    this.answers.clear();
    this.onDone({ outcome, missing, listed: this.listedYet, ms: this.startedAt === undefined ? 0 : Date.now() - this.startedAt });
    for (const listener of this.listeners.splice(0)) listener();
  }
}
