/**
 * Runs tasks one at a time: a task that returns a promise holds back the ones after it.
 * Synchronous handlers never touch a promise. The backlog is bounded: past `queueCapacity`
 * waiting tasks, `run` refuses more (the caller answers for them). A task that throws or
 * rejects is reported to `taskFailed`, never swallowed, and the next one runs.
 *
 * A base class rather than a field: a million channels would otherwise hold a million queue
 * objects. An idle queue costs one field (`pending` is null), a busy one an array that exists
 * only while a task is pending.
 */
export abstract class SerialQueue {
  /** null = idle; an array (empty or not) = a task is pending and these wait behind it. */
  private pending: Array<() => unknown> | null = null;

  /** How many tasks may wait behind a pending one. */
  protected abstract get queueCapacity(): number;
  /** Where a task that threw or rejected is reported. */
  protected abstract taskFailed(error: unknown): void;

  /** False when the backlog is full and `task` was not taken; `force` takes it anyway (a leave). */
  protected run(task: () => unknown, force = false): boolean {
    const pending = this.pending;
    if (pending === null) {
      this.execute(task);
      return true;
    }
    if (!force && pending.length >= this.queueCapacity) return false;
    pending.push(task);
    return true;
  }

  private execute(task: () => unknown): void {
    let result: unknown;
    try {
      result = task();
    } catch (error) {
      this.taskFailed(error);
      return;
    }
    if (result instanceof Promise) {
      this.pending = [];
      result.then(
        () => this.resume(),
        (error: unknown) => {
          this.taskFailed(error);
          this.resume();
        },
      );
    }
  }

  private resume(): void {
    const waiting = this.pending ?? [];
    this.pending = null;
    // A task that returns a promise sets `pending` to a fresh array: hand it what still waits.
    while (waiting.length > 0) {
      if (this.pending !== null) {
        (this.pending as Array<() => unknown>).push(...waiting);
        return;
      }
      this.execute(waiting.shift() as () => unknown);
    }
  }
}
