/**
 * How far behind the truth each presence count a client saw was. The truth is a timeline built
 * from every join and leave the members had acknowledged (+1 / −1 at its reply's time); a count
 * `v` received at `t` is as old as the moment the truth last held `v` (0 if it holds `v` at `t`,
 * or comes to hold it within `aheadMs` after: a count may run a little ahead of the replies, as
 * the server counts a join before its reply reaches the member). A count the truth never held
 * around `t` is "unmatched". Matching the last moment the truth held `v` gives the smallest age
 * the count could have: the churn climbs and falls in long stretches, so one value is held at
 * one moment of each stretch, not all along.
 */
export interface Ack {
  /** ms, one clock for every process */
  t: number;
  delta: 1 | -1;
}

export interface CountSeen {
  /** which sample client (any id unique across processes) */
  client: string;
  /** ms */
  t: number;
  keys: number;
}

export interface StalenessSummary {
  counts: number;
  unmatched: number;
  maxMs: number;
  p99Ms: number;
  p50Ms: number;
  /** clients with at least one count older than `limitMs` when it came */
  clientsOverLimit: number;
  /**
   * The age a client's shown count reached before its next count came (or the window's end):
   * the count shown is never fresher than its arrival, and grows older until it is replaced.
   */
  shownMaxMs: number;
  shownP99Ms: number;
  clientsShownOverLimit: number;
  clients: number;
}

/** For each value the truth took, the [from, to) intervals it held it (to = Infinity: still holds). */
function truthIntervals(acks: readonly Ack[], initial: number): Map<number, Array<[number, number]>> {
  const sorted = [...acks].sort((a, b) => a.t - b.t);
  const held = new Map<number, Array<[number, number]>>();
  let value = initial;
  let since = -Infinity;
  const close = (until: number): void => {
    const list = held.get(value) ?? [];
    list.push([since, until]);
    held.set(value, list);
  };
  for (const ack of sorted) {
    close(ack.t);
    value += ack.delta;
    since = ack.t;
  }
  close(Infinity);
  return held;
}

/** Age of `keys` at `t` against the truth's intervals, ms; NaN when the truth never held it. */
function ageOf(held: Map<number, Array<[number, number]>>, keys: number, t: number, aheadMs: number): number {
  const intervals = held.get(keys);
  if (!intervals) return NaN;
  // The last interval that began at or before t + aheadMs (intervals are in time order).
  let lo = 0;
  let hi = intervals.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (intervals[mid][0] <= t + aheadMs) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0) return NaN;
  const [, to] = intervals[found];
  return to >= t ? 0 : t - to;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * `seen` in any order; `from`..`until` (ms) is the window looked at: counts received in it, and
 * the age shown up to `until`.
 */
export function countStaleness(acks: readonly Ack[], seen: readonly CountSeen[], from: number, until: number, limitMs = 1000, aheadMs = 200): StalenessSummary {
  const held = truthIntervals(acks, 0);
  return summarize((keys, t) => ageOf(held, keys, t, aheadMs), seen, from, until, limitMs);
}

/** countStaleness with any truth: `age(keys, t)` is how old a count `keys` is at `t`, NaN if never held. */
export function summarize(age: (keys: number, t: number) => number, seen: readonly CountSeen[], from: number, until: number, limitMs = 1000): StalenessSummary {
  const byClient = new Map<string, CountSeen[]>();
  for (const s of seen) {
    const list = byClient.get(s.client);
    if (list) list.push(s);
    else byClient.set(s.client, [s]);
  }
  const ages: number[] = [];
  const shown: number[] = [];
  let unmatched = 0;
  let over = 0;
  let shownOver = 0;
  for (const list of byClient.values()) {
    list.sort((a, b) => a.t - b.t);
    let clientOver = false;
    let clientShownOver = false;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      const nextAt = Math.min(i + 1 < list.length ? list[i + 1].t : until, until);
      if (nextAt < from) continue; // replaced before the window began
      if (s.t >= from && s.t <= until) {
        const received = age(s.keys, s.t);
        if (Number.isNaN(received)) unmatched++;
        else {
          ages.push(received);
          if (received > limitMs) clientOver = true;
        }
      }
      // Just before it is replaced, the count shown is as old as this.
      const shownAge = age(s.keys, Math.max(nextAt, from));
      if (!Number.isNaN(shownAge)) {
        shown.push(shownAge);
        if (shownAge > limitMs) clientShownOver = true;
      }
    }
    if (clientOver) over++;
    if (clientShownOver) shownOver++;
  }
  ages.sort((a, b) => a - b);
  shown.sort((a, b) => a - b);
  return {
    counts: ages.length + unmatched,
    unmatched,
    maxMs: ages.length ? ages[ages.length - 1] : NaN,
    p99Ms: percentile(ages, 99),
    p50Ms: percentile(ages, 50),
    clientsOverLimit: over,
    shownMaxMs: shown.length ? shown[shown.length - 1] : NaN,
    shownP99Ms: percentile(shown, 99),
    clientsShownOverLimit: shownOver,
    clients: byClient.size,
  };
}
