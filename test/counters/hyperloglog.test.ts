import { describe, expect, it } from "vitest";
import { HyperLogLog } from "../../server/counters/hyperloglog.js";
import { privateRedis } from "../cluster/support.js";

const local = privateRedis();

const ids = (n: number, prefix = "user-") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

async function redisCount(key: string, elements: string[]): Promise<number> {
  for (let i = 0; i < elements.length; i += 5000) await local.outside.pfadd(key, ...elements.slice(i, i + 5000));
  return local.outside.pfcount(key);
}

describe("the HyperLogLog of distinct actors", () => {
  it("is within its error on 100,000 distinct ids, and says exactly what Redis's PFCOUNT says", async () => {
    const all = ids(100_000);
    const estimator = new HyperLogLog();
    for (const id of all) estimator.add(id);
    const estimate = estimator.count();
    // Standard error 1.04/sqrt(16384) = 0.81 %; three of them is 2.4 %.
    expect(Math.abs(estimate - 100_000) / 100_000).toBeLessThan(0.0243);
    expect(estimate).toBe(await redisCount("hll:100k", all));
  });

  it("agrees with Redis at every size, sparse and dense, and counts repeats once", async () => {
    for (const n of [0, 1, 7, 100, 2000, 3000, 20_000]) {
      const estimator = new HyperLogLog();
      const elements = ids(n, `s${n}-`);
      for (const id of [...elements, ...elements]) estimator.add(id);
      expect([n, estimator.count()]).toEqual([n, await redisCount(`hll:${n}`, elements)]);
    }
  });

  it("estimates a union of buckets as Redis's PFCOUNT of several keys does", async () => {
    const buckets = [ids(5000, "a-"), ids(5000, "b-"), [...ids(2500, "a-"), ...ids(2500, "c-")]];
    const estimators = buckets.map((elements) => {
      const estimator = new HyperLogLog();
      for (const id of elements) estimator.add(id);
      return estimator;
    });
    for (const [i, elements] of buckets.entries()) await redisCount(`hll:u${i}`, elements);
    expect(HyperLogLog.countUnion(estimators)).toBe(await local.outside.pfcount("hll:u0", "hll:u1", "hll:u2"));
  });
});
