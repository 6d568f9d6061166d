/**
 * The room as it may have been, between two bounds. A join is counted by the server somewhere
 * between its send and its reply, a leave likewise: so at any moment the room held at least the
 * joins acknowledged less the leaves sent, and at most the joins sent (less those answered without
 * effect) less the leaves acknowledged. The truth of count-staleness.ts (acknowledged changes only)
 * is one line inside that band; while replies come late (a saturated node's join backlog holds
 * joins, the clients read their replies late) it can sit far from the room the server counted, and
 * a count that was current then looks as old as the moment the acknowledged line last crossed it.
 *
 * Against the band a count `v` received at `t` is as old as the last moment the band held `v`: the
 * least age it can have. It is certainly older than that; so a count found older than a limit here
 * was older than the limit, whatever the replies' delays.
 */
import type { Ack } from "./count-staleness.js";
import type { ChangeLog } from "./change-accounting.js";

/** The band as steps: from `at[i]` on (until `at[i + 1]`), the room was within `low[i]`..`high[i]`. */
export class RoomBand {
  private readonly at: Float64Array;
  private readonly low: Int32Array;
  private readonly high: Int32Array;
  /** A segment tree over the steps: the lowest `low` and highest `high` of each node's range. */
  private readonly size: number;
  private readonly minLow: Int32Array;
  private readonly maxHigh: Int32Array;

  constructor(log: ChangeLog) {
    // Each change moves one bound by one: a join's send raises the high bound and its reply the
    // low one; a leave's send lowers the low bound and its reply the high one; a join answered
    // without effect takes back what its send added to the high bound.
    const moves: Array<{ t: number; low: number; high: number }> = [];
    const add = (list: readonly Ack[], join: { low: number; high: number }, leave: { low: number; high: number }): void => {
      for (const c of list) moves.push({ t: c.t, ...(c.delta === 1 ? join : leave) });
    };
    add(log.sent, { low: 0, high: 1 }, { low: -1, high: 0 });
    add(log.acks, { low: 1, high: 0 }, { low: 0, high: -1 });
    add(log.voided, { low: 0, high: -1 }, { low: 0, high: 0 });
    moves.sort((a, b) => a.t - b.t);
    const n = moves.length + 1;
    this.at = new Float64Array(n);
    this.low = new Int32Array(n);
    this.high = new Int32Array(n);
    this.at[0] = -Infinity;
    for (let i = 0; i < moves.length; i++) {
      this.at[i + 1] = moves[i].t;
      this.low[i + 1] = this.low[i] + moves[i].low;
      this.high[i + 1] = this.high[i] + moves[i].high;
    }
    let size = 1;
    while (size < n) size *= 2;
    this.size = size;
    this.minLow = new Int32Array(2 * size).fill(2 ** 31 - 1);
    this.maxHigh = new Int32Array(2 * size).fill(-(2 ** 31));
    for (let i = 0; i < n; i++) {
      this.minLow[size + i] = this.low[i];
      this.maxHigh[size + i] = this.high[i];
    }
    for (let node = size - 1; node >= 1; node--) {
      this.minLow[node] = Math.min(this.minLow[2 * node], this.minLow[2 * node + 1]);
      this.maxHigh[node] = Math.max(this.maxHigh[2 * node], this.maxHigh[2 * node + 1]);
    }
  }

  /** How old `value` is at `t`, ms: 0 while the band holds it, else since it last did; NaN if it never did by `t`. */
  ageOf(value: number, t: number): number {
    const last = this.stepAt(t);
    const step = this.lastHolding(1, 0, this.size - 1, last, value);
    if (step < 0) return NaN;
    return step === last ? 0 : t - this.at[step + 1];
  }

  /** The last step at or before `t`. */
  private stepAt(t: number): number {
    let lo = 0;
    let hi = this.at.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.at[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * The last step in `from`..`to` of `node`'s range, and at or before `until`, whose band holds
   * `value`; -1 if none. A range whose lowest low and highest high enclose `value` always has one:
   * the bounds move by one at a time, so going from the step of the lowest low to the step of the
   * highest high the high bound reaches `value` with the low bound at or under it. So the descent
   * never backs out of a range it entered whole.
   */
  private lastHolding(node: number, from: number, to: number, until: number, value: number): number {
    if (from > until || this.minLow[node] > value || this.maxHigh[node] < value) return -1;
    if (from === to) return this.low[from] <= value && value <= this.high[from] ? from : -1;
    const mid = (from + to) >> 1;
    const right = this.lastHolding(2 * node + 1, mid + 1, to, until, value);
    return right >= 0 ? right : this.lastHolding(2 * node, from, mid, until, value);
  }
}
