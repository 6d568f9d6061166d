/**
 * Runs `callback` once after a delay that depends on how many tries came before
 * (`timerCalc(tries)`, tries counting from 1), until `reset()` starts the count again.
 * Reconnects and rejoins back off with it.
 */
export class Timer {
  timer: ReturnType<typeof setTimeout> | undefined;
  tries = 0;

  constructor(
    public callback: () => void,
    public timerCalc: (tries: number) => number,
  ) {}

  reset(): void {
    this.tries = 0;
    clearTimeout(this.timer);
  }

  /** Cancels any pending run and schedules the next one. */
  scheduleTimeout(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.tries = this.tries + 1;
      this.callback();
    }, this.timerCalc(this.tries + 1));
  }
}
