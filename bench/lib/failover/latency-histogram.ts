/** Latencies in whole milliseconds, 0 … MAX_MS (longer ones in the last bucket): small enough to send between processes. */
const MAX_MS = 30_000;

export class LatencyHistogram {
  readonly counts: number[];

  constructor(counts?: readonly number[]) {
    this.counts = counts ? [...counts] : new Array<number>(MAX_MS + 1).fill(0);
  }

  add(ms: number): void {
    this.counts[Math.min(MAX_MS, Math.max(0, Math.round(ms)))]++;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i <= MAX_MS; i++) this.counts[i] += other.counts[i];
  }

  get total(): number {
    let sum = 0;
    for (const n of this.counts) sum += n;
    return sum;
  }

  /** The `p`-quantile (0…1), ms; NaN when empty. */
  quantile(p: number): number {
    const total = this.total;
    if (total === 0) return Number.NaN;
    const rank = Math.ceil(p * total);
    let seen = 0;
    for (let i = 0; i <= MAX_MS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return i;
    }
    return MAX_MS;
  }

  /** Only the buckets that hold something: [ms, count] pairs. */
  sparse(): Array<[number, number]> {
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i <= MAX_MS; i++) if (this.counts[i] > 0) pairs.push([i, this.counts[i]]);
    return pairs;
  }

  static fromSparse(pairs: ReadonlyArray<[number, number]>): LatencyHistogram {
    const histogram = new LatencyHistogram();
    for (const [ms, count] of pairs) histogram.counts[ms] += count;
    return histogram;
  }
}
