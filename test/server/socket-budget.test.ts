import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { takeTokens, tokensAt, type FullAt } from "../../server/socket/socket-budget.js";
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
