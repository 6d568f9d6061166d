/**
 * A token bucket: `rate` tokens a second, holding at most `rate` (one second's worth, so a burst
 * of `rate` passes at once). A rate of 0 means no limit.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: number,
    now: number = Date.now(),
  ) {
    this.tokens = rate;
    this.at = now;
  }

  /** Takes one token; false when there is none (the action is over the limit). */
  take(now: number = Date.now()): boolean {
    if (this.rate === 0) return true;
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.at) * this.rate) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
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
