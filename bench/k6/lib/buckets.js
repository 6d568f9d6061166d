// Latency buckets that k6 scripts fill (latency-histogram.js) and combine.mjs adds up across
// processes: plain JS, importable by k6 and by Node alike.

// 10 buckets a decade (the E10-like series 1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8), 0.1 ms … 100 s.
const STEPS = [1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8];
/** Upper bounds in µs; a sample above the last falls in the overflow bucket ("inf"). */
export const BOUNDS_US = [];
for (let decade = 100; decade <= 10000000; decade *= 10) for (const s of STEPS) BOUNDS_US.push(Math.round(s * decade));
BOUNDS_US.push(100000000);

/** The counter of bucket i of histogram `name`: `<name>_le_<bound>us`, or `<name>_le_inf`. */
export function bucketMetricName(name, i) {
  return i < BOUNDS_US.length ? `${name}_le_${BOUNDS_US[i]}us` : `${name}_le_inf`;
}

/** Matches a bucket counter: [, histogram name, bound in µs or "inf"]. */
export const BUCKET_METRIC = /^(.+)_le_(\d+)us$|^(.+)_le_inf$/;

/** Index of the bucket holding `ms`: the first bound ≥ it, or BOUNDS_US.length (overflow). */
export function bucketIndex(ms) {
  const us = ms * 1000;
  let lo = 0;
  let hi = BOUNDS_US.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (us <= BOUNDS_US[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The q-quantile (0 < q ≤ 1) of bucket counts (index → count) as the range of its bucket in ms:
 * {above, atMost}; atMost is Infinity in the overflow bucket. null when there are no samples.
 */
export function quantileRange(counts, q) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i];
    if (seen >= rank) {
      return { above: i === 0 ? 0 : BOUNDS_US[i - 1] / 1000, atMost: i < BOUNDS_US.length ? BOUNDS_US[i] / 1000 : Infinity };
    }
  }
  return null;
}

/** Bucket counts of histogram `name` from k6 summary metrics ({metric name: count}). */
export function countsFrom(name, counterValues) {
  const counts = new Array(BOUNDS_US.length + 1).fill(0);
  for (let i = 0; i < counts.length; i++) counts[i] = counterValues[bucketMetricName(name, i)] || 0;
  return counts;
}
