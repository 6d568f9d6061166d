// A latency histogram that several k6 processes can add up exactly. A Trend's percentiles cannot
// be merged (the median of medians is not the median); bucket counts can. Each VU counts into
// its own buckets and adds them to one k6 Counter per bucket now and then (`flush`), so the
// cost per sample is an array increment, not a metric sample. combine.mjs sums the counters of
// every process and reads percentiles off the sum, to within one bucket (at most 28 % wide).
import { Counter } from "k6/metrics";

import { BOUNDS_US, bucketIndex, bucketMetricName } from "./buckets.js";

export class LatencyHistogram {
  /** Declare in the init context (k6 metrics are created there). */
  constructor(name) {
    this.counters = [];
    for (let i = 0; i <= BOUNDS_US.length; i++) this.counters.push(new Counter(bucketMetricName(name, i)));
    this.counts = new Array(BOUNDS_US.length + 1).fill(0);
  }

  add(ms) {
    this.counts[bucketIndex(ms)]++;
  }

  /** Hand the counts since the last flush to k6 (call now and then, and before the VU ends). */
  flush() {
    for (let i = 0; i < this.counts.length; i++) {
      if (this.counts[i] > 0) {
        this.counters[i].add(this.counts[i]);
        this.counts[i] = 0;
      }
    }
  }
}
