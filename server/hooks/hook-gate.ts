/**
 * A thread's bound on backend requests: at most `concurrency` in flight, then at most `queue`
 * waiting in order for a slot; past that a request is refused at once ("backend busy") instead
 * of waiting behind a backend that cannot keep up. A waiting request's own timeout keeps running
 * while it waits.
 */
export class HookGate {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly queue: number,
    private readonly onSizes: (inFlight: number, waiting: number) => void,
  ) {}

  /** Resolves with a release function once a slot is free; undefined when the wait queue is full. */
  enter(): Promise<() => void> | undefined {
    if (this.inFlight < this.concurrency) return Promise.resolve(this.take());
    if (this.waiting.length >= this.queue) return undefined;
    const entered = new Promise<() => void>((resolve) => this.waiting.push(() => resolve(this.take())));
    this.report();
    return entered;
  }

  private take(): () => void {
    this.inFlight += 1;
    this.report();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= 1;
      this.waiting.shift()?.();
      this.report();
    };
  }

  private report(): void {
    this.onSizes(this.inFlight, this.waiting.length);
  }
}
