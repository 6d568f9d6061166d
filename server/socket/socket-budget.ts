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
