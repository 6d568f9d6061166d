/**
 * Runs tasks one at a time: a task that returns a promise holds back the ones after it.
 * Synchronous handlers never touch a promise, and the backlog array exists only while a task
 * is pending, so an idle channel costs two fields. The backlog is bounded: past `capacity`
 * waiting tasks, `run` refuses more (the caller answers for them). A task that throws or
 * rejects is reported, never swallowed, and the next one runs.
 */
/** Whoever runs tasks on a queue: its bound, and where a failure goes. (No closure per queue: a million channels hold a million queues.) */
export interface QueueOwner {
  readonly queueCapacity: number;
  taskFailed(error: unknown): void;
}

export class SerialQueue {
  private busy = false;
  private backlog: Array<() => unknown> | null = null;

  constructor(private readonly owner: QueueOwner) {}

  /** False when the backlog is full and `task` was not taken; `force` takes it anyway (a leave). */
  run(task: () => unknown, force = false): boolean {
    if (!this.busy) {
      this.execute(task);
      return true;
    }
    const backlog = (this.backlog ??= []);
    if (!force && backlog.length >= this.owner.queueCapacity) return false;
    backlog.push(task);
    return true;
  }

  private execute(task: () => unknown): void {
    let result: unknown;
    try {
      result = task();
    } catch (error) {
      this.owner.taskFailed(error);
      return;
    }
    if (result instanceof Promise) {
      this.busy = true;
      result.then(
        () => this.resume(),
        (error: unknown) => {
          this.owner.taskFailed(error);
          this.resume();
        },
      );
    }
  }

  private resume(): void {
    this.busy = false;
    while (!this.busy && this.backlog && this.backlog.length > 0) this.execute(this.backlog.shift() as () => unknown);
    if (!this.busy) this.backlog = null;
  }
}
