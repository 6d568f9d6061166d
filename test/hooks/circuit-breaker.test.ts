/** The circuit breaker's states and the gate's bounds, on a clock the test moves. */
import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../server/hooks/circuit-breaker.js";
import { HookGate } from "../../server/hooks/hook-gate.js";

describe("CircuitBreaker", () => {
  it("opens after N failures in a row, lets one probe through after the cool-down, and closes on its success", () => {
    let now = 0;
    const changes: boolean[] = [];
    const breaker = new CircuitBreaker(3, 1000, (open) => changes.push(open), () => now);
    for (let i = 0; i < 2; i++) {
      expect(breaker.admit()).toBe(true);
      breaker.failed();
    }
    breaker.admit();
    breaker.succeeded(); // a success in between starts the count again
    for (let i = 0; i < 3; i++) {
      expect(breaker.admit()).toBe(true);
      breaker.failed();
    }
    expect([breaker.state, changes]).toEqual(["open", [true]]);
    expect(breaker.admit()).toBe(false);
    now = 999;
    expect(breaker.admit()).toBe(false);
    now = 1000;
    expect(breaker.state).toBe("half-open");
    expect(breaker.admit()).toBe(true);
    expect(breaker.admit()).toBe(false); // one probe at a time
    breaker.failed(); // the probe failed: another cool-down
    expect(breaker.state).toBe("open");
    now = 2000;
    expect(breaker.admit()).toBe(true);
    breaker.untried(); // never sent: the probe is given back
    expect(breaker.admit()).toBe(true);
    breaker.succeeded();
    expect([breaker.state, changes]).toEqual(["closed", [true, false]]);
    expect(breaker.admit()).toBe(true);
  });
});

describe("HookGate", () => {
  it("lets `concurrency` in, queues `queue` in order, and refuses beyond", async () => {
    const sizes: Array<[number, number]> = [];
    const gate = new HookGate(1, 1, (inFlight, waiting) => sizes.push([inFlight, waiting]));
    const first = await gate.enter();
    const second = gate.enter();
    expect(gate.enter()).toBeUndefined();
    first?.();
    const release = await second;
    expect(sizes.at(-1)).toEqual([1, 0]);
    release?.();
    release?.(); // twice is once
    expect(sizes.at(-1)).toEqual([0, 0]);
  });
});
