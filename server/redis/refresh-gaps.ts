/**
 * The gaps between a node's liveness refreshes, the last `remembered` of them. A refresh is a
 * timer: it comes late exactly when the event loop stalled (a busy machine, a long GC pause), and
 * its gap is how long the key had to live through. Measured where it matters, with no timer of
 * its own.
 */
export class RefreshGaps {
  private readonly gaps: number[] = [];
  private last: number | undefined;

  constructor(private readonly remembered: number) {}

  /** A refresh starts at `now`: its gap since the previous one joins the window. Returns the longest gap in it, ms. */
  refreshed(now: number): number {
    if (this.last !== undefined) {
      this.gaps.push(now - this.last);
      if (this.gaps.length > this.remembered) this.gaps.shift();
    }
    this.last = now;
    return this.longest();
  }

  /** The longest gap remembered, ms (0 before the second refresh). */
  longest(): number {
    return this.gaps.reduce((longest, gap) => Math.max(longest, gap), 0);
  }
}
