import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { budgetNow, isFull, takeBytes, takeTokens, tokensAt, type FullAt } from "../../server/socket/socket-budget.js";
import { TokenBucket } from "../../server/socket/rate-limit.js";

describe("a socket's budget kept as one number", () => {
  it("lets through and refuses exactly what a token bucket of the same rate and burst does", () => {
    // Rates that divide 1000: a token's refill time is a whole number of ms, so both count exactly.
    const rates = [1, 2, 4, 5, 8, 10, 20, 25, 40, 50];
    const step = fc.record({ wait: fc.integer({ min: 0, max: 400 }), amount: fc.integer({ min: 1, max: 30 }) });
    fc.assert(
      fc.property(fc.constantFrom(...rates), fc.integer({ min: 0, max: 40 }), fc.array(step, { maxLength: 60 }), (rate, extra, steps) => {
        const burst = rate + extra;
        let now = 1_000_000;
        const bucket = new TokenBucket(rate, now, burst);
        let fullAt: FullAt = null;
        for (const { wait, amount } of steps) {
          now += wait;
          const taken = takeTokens(fullAt, now, rate, burst, amount);
          expect(taken !== false).toBe(bucket.take(now, amount));
          if (taken !== false) fullAt = taken;
          expect(tokensAt(fullAt, now, rate, burst)).toBeCloseTo(bucket.available(now), 6);
        }
      }),
    );
  });

  it("as a byte budget, with any rate, refuses what a token bucket refuses, and holds at most one millisecond's refill less", () => {
    const step = fc.record({ wait: fc.integer({ min: 0, max: 30 }), amount: fc.integer({ min: 1, max: 400_000 }) });
    fc.assert(
      fc.property(fc.integer({ min: 1_000, max: 2_000_000 }), fc.array(step, { maxLength: 80 }), (rate, steps) => {
        let now = 1_000;
        const bucket = new TokenBucket(rate, now, rate);
        let fullAt: FullAt = null;
        for (const { wait, amount } of steps) {
          now += wait;
          const exact = bucket.available(now);
          const ours = tokensAt(fullAt, now, rate, rate);
          expect(ours).toBeLessThanOrEqual(exact + 1e-6);
          expect(exact - ours).toBeLessThanOrEqual(rate / 1000 + 1e-6);
          const taken = takeBytes(fullAt, now, rate, rate, amount, isFull(fullAt, now));
          const bucketTook = bucket.take(now, amount);
          // Never more lenient; stricter only for an action within a millisecond's refill of what is left.
          if (taken !== false) expect(bucketTook).toBe(true);
          if (taken === false && bucketTook) {
            expect(exact - amount).toBeLessThan(rate / 1000);
            return;
          }
          if (taken !== false) fullAt = taken;
        }
      }),
    );
  });

  it("as a byte budget, leaves a whole millisecond after a frame from a full bucket, and counts the next ones exactly from there", () => {
    const rate = 1024 * 1024;
    // A frame pays its bytes, then its decode cost, rounded up as a whole once it found the bucket full.
    const bytesPaid = takeBytes(null, 5000, rate, rate, 100, false) as number;
    expect(bytesPaid).toBe(5000 + (100 * 1000) / rate);
    const first = takeBytes(bytesPaid, 5000, rate, rate, 32, isFull(null, 5000)) as number;
    expect(first).toBe(5001);
    expect(takeBytes(first, 5000, rate, rate, 100, isFull(first, 5000))).toBe(5001 + (100 * 1000) / rate);
    // A later lone frame, once the bucket is full again, is rounded up again (and only it).
    expect(takeBytes(first, 6000, rate, rate, 3000, isFull(first, 6000))).toBe(6003);
    expect(takeBytes(null, 0, 0, 0, 100, true)).toBeNull();
  });

  it("counts on a clock of its own that starts near zero: its moments are small integers for 24 days", () => {
    const now = budgetNow();
    expect(Number.isInteger(now)).toBe(true);
    expect(Math.abs(now)).toBeLessThan(2 ** 30);
  });

  it("counts nothing without a limit (rate 0)", () => {
    expect(takeTokens(null, 0, 0, 0, 1e9)).toBeNull();
    expect(tokensAt(null, 0, 0, 0)).toBe(Infinity);
  });

  it("is full from the start, and full again once the moment it names has passed", () => {
    expect(tokensAt(null, 5, 10, 10)).toBe(10);
    const fullAt = takeTokens(null, 1000, 10, 10, 10) as number;
    expect(fullAt).toBe(2000);
    expect(takeTokens(fullAt, 1050, 10, 10, 1)).toBe(false);
    expect(tokensAt(fullAt, 1500, 10, 10)).toBe(5);
    expect(tokensAt(fullAt, 2500, 10, 10)).toBe(10);
  });
});

describe("a token bucket", () => {
  it("has a token back after exactly its refill time, however often it was asked meanwhile", () => {
    // Counted in tokens, ten tenths made 0.9999999999999999 and this take was refused.
    const bucket = new TokenBucket(1, 0, 1);
    expect(bucket.take(0)).toBe(true);
    for (let t = 100; t < 1000; t += 100) expect(bucket.take(t)).toBe(false);
    expect(bucket.take(1000)).toBe(true);
    expect(bucket.available(1000)).toBe(0);
  });
});
