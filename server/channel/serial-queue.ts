/**
 * Runs tasks one at a time: a task that returns a promise holds back the ones after it.
 * Synchronous handlers never touch a promise, so the common path stays allocation-free.
 */
export class SerialQueue {
  private busy = false;
  private readonly backlog: Array<() => unknown> = [];

  run(task: () => unknown): void {
    if (this.busy) this.backlog.push(task);
    else this.execute(task);
  }

  private execute(task: () => unknown): void {
    const result = task();
    if (result instanceof Promise) {
      this.busy = true;
      result.then(this.resume, this.resume);
    }
  }

  private readonly resume = (): void => {
    this.busy = false;
    while (!this.busy && this.backlog.length > 0) this.execute(this.backlog.shift() as () => unknown);
  };
}
