/**
 * A token bucket: `rate` tokens a second, holding at most `burst` (by default `rate`: one
 * second's worth, so a burst of `rate` passes at once). A rate of 0 means no limit.
 */
export class TokenBucket {
  /**
   * Thousandths of a token: with whole milliseconds and a whole rate, what refills is a whole
   * number of them, so the count stays exact. Counted in tokens, a tenth refilled ten times
   * (a client trying every 100 ms at 1 a second) came to 0.9999999999999999 and refused the
   * token a whole second had brought.
   */
  private milli: number;
  private at: number;

  constructor(
    private readonly rate: number,
    now: number = Date.now(),
    private readonly burst: number = rate,
  ) {
    this.milli = burst * 1000;
    this.at = now;
  }

  /** Takes `amount` tokens (default one); false, taking none, when there are fewer (the action is over the limit). */
  take(now: number = Date.now(), amount = 1): boolean {
    if (this.rate === 0) return true;
    this.refill(now);
    if (this.milli < amount * 1000) return false;
    this.milli -= amount * 1000;
    return true;
  }

  /** The tokens there are now (Infinity without a limit). */
  available(now: number = Date.now()): number {
    if (this.rate === 0) return Infinity;
    this.refill(now);
    return this.milli / 1000;
  }

  private refill(now: number): void {
    this.milli = Math.min(this.burst * 1000, this.milli + (now - this.at) * this.rate);
    this.at = now;
  }
}

/**
 * Token buckets by key (a client address), at most `maxKeys` of them: past it the least
 * recently used bucket is forgotten, which can only let its key through earlier than it should.
 */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: number,
    private readonly maxKeys: number,
  ) {}

  /** Whether there is a limit at all (without one, `take` lets every key through). */
  get limited(): boolean {
    return this.rate > 0;
  }

  take(key: string, now: number = Date.now()): boolean {
    if (this.rate === 0) return true;
    let bucket = this.buckets.get(key);
    if (bucket) this.buckets.delete(key);
    else bucket = new TokenBucket(this.rate, now);
    // Re-inserted: the map's order is least recently used first.
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    return bucket.take(now);
  }

  get size(): number {
    return this.buckets.size;
  }
}
