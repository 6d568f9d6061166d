/**
 * The tasks waiting behind a pending one, by queue: only busy queues are here, so that an idle
 * queue costs its owner one bit (`queueBusy`) rather than a field of 8 bytes in every channel.
 * Weak: a queue whose pending promise never settles goes with its channel.
 */
const WAITING = new WeakMap<SerialQueue, Array<() => unknown>>();

/**
 * Runs tasks one at a time: a task that returns a promise holds back the ones after it.
 * Synchronous handlers never touch a promise. The backlog is bounded: past `queueCapacity`
 * waiting tasks, `run` refuses more (the caller answers for them). A task that throws or
 * rejects is reported to `taskFailed`, never swallowed, and the next one runs.
 *
 * A base class rather than a field: a million channels would otherwise hold a million queue
 * objects. An idle queue costs a bit of its owner's (`queueBusy`), a busy one a flag and, once
 * a task waits behind the pending one, an array in WAITING.
 */
export abstract class SerialQueue {
  /** Whether a task is pending (its promise not settled yet): the ones run meanwhile wait behind it. */
  protected abstract get queueBusy(): boolean;
  protected abstract set queueBusy(busy: boolean);
  /** How many tasks may wait behind a pending one. */
  protected abstract get queueCapacity(): number;
  /** Where a task that threw or rejected is reported. */
  protected abstract taskFailed(error: unknown): void;

  /** False when the backlog is full and `task` was not taken; `force` takes it anyway (a leave). */
  protected run(task: () => unknown, force = false): boolean {
    if (!this.queueBusy) {
      this.execute(task);
      return true;
    }
    let waiting = WAITING.get(this);
    if (!force && (waiting?.length ?? 0) >= this.queueCapacity) return false;
    if (waiting === undefined) WAITING.set(this, (waiting = []));
    waiting.push(task);
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
      this.queueBusy = true;
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
    const waiting = WAITING.get(this);
    if (waiting !== undefined) WAITING.delete(this);
    this.queueBusy = false;
    if (waiting === undefined) return;
    // A task that returns a promise makes the queue busy again: what still waits goes behind it.
    while (waiting.length > 0) {
      if (this.queueBusy) {
        const later = WAITING.get(this);
        if (later === undefined) WAITING.set(this, waiting);
        else later.push(...waiting);
        return;
      }
      this.execute(waiting.shift() as () => unknown);
    }
  }
}
