import type { HistoryPage } from "./history.js";
import type { RecentFrames } from "./recent-frames.js";

/** Where a client says it stopped: the last offset it saw, in which epoch. */
export interface Since {
  o: number;
  e: string;
}

/** What a join on a history topic answers in `_recovery`: whether the missed messages follow, and the position they bring the client to. */
export interface Recovery {
  recovered: boolean;
  o: number;
  e: string;
}

/** Reads `_since` from join params: undefined when absent; throws a message for the client when malformed. */
export function parseSince(value: unknown): Since | undefined {
  if (value === undefined || value === null) return undefined;
  const since = value as { o?: unknown; e?: unknown };
  if (typeof value !== "object" || Array.isArray(value)) throw new SinceError();
  if (typeof since.o !== "number" || !Number.isSafeInteger(since.o) || since.o < 0) throw new SinceError();
  // An empty epoch is what a join gets when the history could not be read: it matches no epoch.
  if (typeof since.e !== "string" || since.e.length > 64) throw new SinceError();
  return { o: since.o, e: since.e };
}

export class SinceError extends Error {
  constructor() {
    super("_since must be {o: offset (a non-negative integer), e: epoch (a string)}");
  }
}

/**
 * Decides a join on a history topic from the authority's page and what reached this thread since
 * it was read: the position the client is brought to, and — when it asked with `_since` and
 * everything after it can be given without a hole, within `maxRecover` messages and in the same
 * epoch — the frames it missed, in order.
 */
export function planRecovery(since: Since | undefined, page: HistoryPage, recent: RecentFrames | undefined, maxRecover: number): { recovery: Recovery; replay: string[] } {
  const arrived = recent?.after(page.top, page.epoch) ?? [];
  const top = arrived.length > 0 ? arrived[arrived.length - 1].offset : page.top;
  const notRecovered = { recovery: { recovered: false, o: top, e: page.epoch }, replay: [] };
  if (!since || since.e !== page.epoch || since.o > top || top - since.o > maxRecover) return notRecovered;
  const missed = [...page.entries.filter((entry) => entry.offset > since.o), ...arrived];
  let expected = since.o + 1;
  for (const entry of missed) {
    if (entry.offset !== expected) return notRecovered;
    expected++;
  }
  if (expected !== top + 1) return notRecovered;
  return { recovery: { recovered: true, o: top, e: page.epoch }, replay: missed.map((entry) => entry.frame) };
}
