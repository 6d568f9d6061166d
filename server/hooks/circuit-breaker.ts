/**
 * One backend endpoint's circuit breaker. Closed, requests go through; after `failures` failures
 * in a row it opens and every request is refused at once (no connection, no wait) for
 * `coolDownMs`; then it is half-open: one request goes through as a probe while the others are
 * still refused, and the probe's success closes it, its failure opens it for another cool-down.
 * A backend that is down costs its callers nothing but a refusal, and gets no storm of retries.
 */
export type BreakerState = "closed" | "open" | "half-open";

export class CircuitBreaker {
  private failuresInRow = 0;
  private openedAt = 0;
  private probing = false;
  private opened = false;

  constructor(
    private readonly failures: number,
    private readonly coolDownMs: number,
    /** Told when the breaker opens (true) and when it closes again (false). */
    private readonly onChange: (open: boolean) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (!this.opened) return "closed";
    return this.now() - this.openedAt >= this.coolDownMs ? "half-open" : "open";
  }

  /** Whether a request may go now; when it may, its outcome must be reported with `succeeded` or `failed`. */
  admit(): boolean {
    const state = this.state;
    if (state === "closed") return true;
    if (state === "open" || this.probing) return false;
    this.probing = true;
    return true;
  }

  /** A request admitted but never sent (no slot in time): a probe is given back, nothing is learnt. */
  untried(): void {
    this.probing = false;
  }

  succeeded(): void {
    this.failuresInRow = 0;
    this.probing = false;
    if (this.opened) {
      this.opened = false;
      this.onChange(false);
    }
  }

  failed(): void {
    this.probing = false;
    this.failuresInRow += 1;
    if (this.opened) this.openedAt = this.now();
    else if (this.failuresInRow >= this.failures) {
      this.opened = true;
      this.openedAt = this.now();
      this.onChange(true);
    }
  }
}
