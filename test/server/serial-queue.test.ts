import { describe, expect, it } from "vitest";
import { SerialQueue } from "../../server/channel/serial-queue.js";

/** A queue as a channel keeps it: its busy mark in a flags field of its own. */
class Queue extends SerialQueue {
  private flags = 0;
  readonly failures: unknown[] = [];

  constructor(private readonly capacity: number) {
    super();
  }

  protected get queueBusy(): boolean {
    return (this.flags & 1) !== 0;
  }

  protected set queueBusy(busy: boolean) {
    this.flags = busy ? this.flags | 1 : this.flags & ~1;
  }

  protected get queueCapacity(): number {
    return this.capacity;
  }

  protected taskFailed(error: unknown): void {
    this.failures.push(error);
  }

  take(task: () => unknown, force = false): boolean {
    return this.run(task, force);
  }
}

/** A promise and the function that settles it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("SerialQueue", () => {
  it("runs synchronous tasks at once, and holds the ones behind a pending promise until it settles, in order", async () => {
    const queue = new Queue(10);
    const ran: string[] = [];
    queue.take(() => ran.push("a"));
    expect(ran).toEqual(["a"]);
    const first = gate();
    queue.take(() => {
      ran.push("b");
      return first.promise;
    });
    queue.take(() => ran.push("c"));
    const second = gate();
    queue.take(() => {
      ran.push("d");
      return second.promise;
    });
    queue.take(() => ran.push("e"));
    expect(ran).toEqual(["a", "b"]);
    first.open();
    await first.promise;
    await Promise.resolve();
    // c ran, then d went pending again: e still waits behind it.
    expect(ran).toEqual(["a", "b", "c", "d"]);
    queue.take(() => ran.push("f"));
    second.open();
    await second.promise;
    await Promise.resolve();
    expect(ran).toEqual(["a", "b", "c", "d", "e", "f"]);
    queue.take(() => ran.push("g"));
    expect(ran.at(-1)).toBe("g");
  });

  it("refuses past its capacity while a task is pending, unless forced, and reports a rejected task and goes on", async () => {
    const queue = new Queue(1);
    const ran: string[] = [];
    const pending = gate();
    expect(queue.take(() => pending.promise.then(() => Promise.reject(new Error("no"))))).toBe(true);
    expect(queue.take(() => ran.push("waits"))).toBe(true);
    expect(queue.take(() => ran.push("refused"))).toBe(false);
    expect(queue.take(() => ran.push("forced"), true)).toBe(true);
    pending.open();
    await new Promise((resolve) => setImmediate(resolve));
    expect(queue.failures).toHaveLength(1);
    expect(ran).toEqual(["waits", "forced"]);
    expect(queue.take(() => ran.push("after"))).toBe(true);
    expect(ran).toEqual(["waits", "forced", "after"]);
  });
});
