/**
 * Runs tasks one at a time: a task that returns a promise holds back the ones after it.
 * Synchronous handlers never touch a promise, and the backlog array exists only while a task
 * is pending, so an idle channel costs two fields.
 */
export class SerialQueue {
  private busy = false;
  private backlog: Array<() => unknown> | null = null;

  run(task: () => unknown): void {
    if (this.busy) (this.backlog ??= []).push(task);
    else this.execute(task);
  }

  private execute(task: () => unknown): void {
    const result = task();
    if (result instanceof Promise) {
      this.busy = true;
      const resume = () => this.resume();
      result.then(resume, resume);
    }
  }

  private resume(): void {
    this.busy = false;
    while (!this.busy && this.backlog && this.backlog.length > 0) this.execute(this.backlog.shift() as () => unknown);
    if (!this.busy) this.backlog = null;
  }
}
