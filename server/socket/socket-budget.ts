/**
 * One rate limit of one socket, kept as a single number: the moment its bucket is full again
 * (null: full since it was made). A bucket of `burst` tokens refilled at `rate` a second holds,
 * at `now`, `burst` less what refills between now and that moment; taking `amount` tokens moves
 * the moment on by the time they take to refill. This is the token bucket of rate-limit.ts
 * (the generic cell rate algorithm), without an object per bucket: a socket keeps one field per
 * limit, null on every socket that never took anything and a number on the rest, where a bucket
 * object cost 56 bytes and two more for its numbers, for each limit of each socket.
 */
export type FullAt = number | null;

/**
 * Budgets count milliseconds from when this module loaded, not from 1970: their moments are then
 * small integers, which V8 keeps in the socket's field itself, where a number past 2^31 is a heap
 * number of 16 bytes per budget per socket. After 24.8 days they are heap numbers again, the same
 * values.
 */
const EPOCH = Date.now();

/** Now, on the budgets' clock (see EPOCH). */
export function budgetNow(): number {
  return Date.now() - EPOCH;
}

/** The tokens a bucket holds at `now` (Infinity when `rate` is 0: no limit). */
export function tokensAt(fullAt: FullAt, now: number, rate: number, burst: number): number {
  if (rate === 0) return Infinity;
  if (fullAt === null || fullAt <= now) return burst;
  return burst - ((fullAt - now) * rate) / 1000;
}

/**
 * Takes `amount` tokens: the bucket's new full-again moment, or false, taking none, when it holds
 * fewer (the action is over the limit). With `rate` 0 nothing is counted and `fullAt` is returned.
 */
export function takeTokens(fullAt: FullAt, now: number, rate: number, burst: number, amount = 1): FullAt | false {
  if (rate === 0) return fullAt;
  if (tokensAt(fullAt, now, rate, burst) < amount) return false;
  return (fullAt === null || fullAt < now ? now : fullAt) + (amount * 1000) / rate;
}

/** Whether the bucket is full at `now` (its moment has passed). */
export function isFull(fullAt: FullAt, now: number): boolean {
  return fullAt === null || fullAt <= now;
}

/**
 * takeTokens for a budget of bytes (the inbound byte budget), whose frames cost fractions of a
 * millisecond. With `roundUp` (the caller's frame found the bucket full: see isFull) the new
 * moment is rounded up to a whole millisecond, so that a lone frame (a heartbeat, a join, the
 * last frame of a socket gone idle) leaves a small integer on its socket rather than a heap
 * number. That holds back at most one millisecond's refill (rate / 1000 bytes: 1 KiB of the
 * default 1 MiB) for at most that millisecond, and never adds up: frames right after it are
 * counted exactly from there, and the next rounding needs a full bucket again. (The counted
 * limits, frames, joins and presence, stay exact: an action of theirs is a whole token, which a
 * millisecond's refill held back could refuse at the end of a burst.)
 */
export function takeBytes(fullAt: FullAt, now: number, rate: number, burst: number, bytes: number, roundUp: boolean): FullAt | false {
  const taken = takeTokens(fullAt, now, rate, burst, bytes);
  return roundUp && taken !== false && taken !== null ? Math.ceil(taken) : taken;
}
