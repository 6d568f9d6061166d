/**
 * One socket's token clock: `notice` runs `noticeMs` before the token expires (at once when
 * less is left), `expire` when it expires. A fresh token re-arms it; until then the socket
 * keeps the session its token gave, and not a moment past it.
 */
export class TokenExpiry {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private noticed = false;

  constructor(
    private readonly noticeMs: number,
    private readonly hooks: { notice(msLeft: number): void; expire(): void },
  ) {}

  /** Whether the socket has been told and not re-armed since (a channel joined now is told too). */
  get noticeGiven(): boolean {
    return this.noticed;
  }

  /** Watches a token that expires at `expiresAt` (ms since the epoch; null: never), replacing any earlier one. */
  watch(expiresAt: number | null): void {
    this.stop();
    this.noticed = false;
    if (expiresAt === null) return;
    this.at(expiresAt - this.noticeMs, () => {
      this.noticed = true;
      this.hooks.notice(Math.max(0, expiresAt - Date.now()));
      this.at(expiresAt, () => this.hooks.expire());
    });
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Runs `run` at `time`; timers cannot wait past 2^31−1 ms (~24.8 days), so far ones are chained. */
  private at(time: number, run: () => void): void {
    const delay = time - Date.now();
    if (delay <= 0) {
      this.timer = null;
      run();
      return;
    }
    this.timer = setTimeout(() => (delay > MAX_TIMER_MS ? this.at(time, run) : ((this.timer = null), run())), Math.min(delay, MAX_TIMER_MS));
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;
