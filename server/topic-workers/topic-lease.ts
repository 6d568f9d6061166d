import type { LeaseView } from "../leases/leases.js";
import type { TopicWorkerSpec } from "./topic-worker.js";
import { WorkerRun, type StopReason, type TopicWorkerServices } from "./worker-run.js";

/** A holder stops its worker this long before its lease could expire without a renewal. */
export const EXPIRY_MARGIN_MS = 1000;
/** A claim that failed (Redis unreachable) is tried again after at most this long. */
const RETRY_MS = 1000;
/** Marks a claim that only updates interest: it never matches a lease, so nothing is taken. */
const NO_TOKEN = "-";

export interface TopicLeaseOptions {
  topic: string;
  claimant: string;
  ttlMs: number;
  spec: TopicWorkerSpec;
  linger: number;
  services: TopicWorkerServices;
  /** The topic needs this thread no more (no local subscriber, no lease). */
  onDone: () => void;
}

/**
 * This thread's part in one topic's lease, while it has a subscriber of the topic or holds the
 * lease. Claiming: every ttl/3 (and when a lease is released anywhere, or expires) it registers
 * its interest and takes the lease if free. Holding: every ttl/3 it renews (compare-and-extend),
 * runs the worker, and ends it when the lease is lost, when a renewal has not succeeded for
 * ttl − 1 s (so a frozen or cut-off holder stops before anyone else can take over), or after
 * `linger` with no interest anywhere (then it releases the lease).
 */
export class TopicLease {
  private local = false;
  private token: string | null = null;
  private run: WorkerRun | null = null;
  /** When the last successful claim or renewal was sent: the lease lasts at least ttl from then. */
  private renewedAt = 0;
  private idleSince: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private expiry: NodeJS.Timeout | null = null;
  private stepping = false;
  private again = false;
  private failing = false;
  private closed = false;

  constructor(private readonly options: TopicLeaseOptions) {}

  get holding(): boolean {
    return this.token !== null;
  }

  /** This thread gained its first or lost its last subscriber of the topic. */
  setLocalInterest(interested: boolean): void {
    this.local = interested;
    this.wake();
  }

  /** Claim now (a lease was released, or a fenced effect was refused). */
  wake(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stepping) this.again = true;
    else void this.step();
  }

  /** Drain: the worker stops and the lease is released, so a claimant elsewhere takes over at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    const { topic, claimant, services } = this.options;
    const token = this.token;
    this.lose("drain");
    try {
      if (token) await services.leases.release({ topic, token, claimant, ifIdle: false });
      else if (this.local) await services.leases.claim({ topic, claimant, ttlMs: this.options.ttlMs, interested: false, token: NO_TOKEN });
    } catch (err) {
      services.log.warn({ err, topic }, "could not release a topic worker's lease; it expires by itself");
    }
  }

  private async step(): Promise<void> {
    this.stepping = true;
    try {
      await (this.token === null ? this.claim() : this.renew());
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.options.services.log.warn({ err, topic: this.options.topic }, "topic worker lease unreachable; retrying");
      this.failing = true;
      this.schedule(Math.min(this.options.ttlMs / 3, RETRY_MS));
    } finally {
      this.stepping = false;
    }
    if (this.again && !this.closed) {
      this.again = false;
      this.wake();
    }
  }

  private async claim(): Promise<void> {
    const { topic, claimant, ttlMs, services } = this.options;
    if (!this.local) {
      this.finish();
      // Withdraw the interest at once rather than let it expire (best effort).
      await services.leases.claim({ topic, claimant, ttlMs, interested: false, token: NO_TOKEN });
      return;
    }
    const sentAt = Date.now();
    const view = await services.leases.claim({ topic, claimant, ttlMs, interested: true });
    if (this.closed) {
      // The node began draining meanwhile: hand the lease straight back.
      if (view.held) await services.leases.release({ topic, token: view.token, claimant, ifIdle: false });
      return;
    }
    if (!view.held) return this.schedule(retryAfter(view, ttlMs));
    this.token = view.token;
    this.renewed(sentAt);
    this.idleSince = null;
    this.run = new WorkerRun(topic, view.token, this.options.spec, services, {
      valid: () => Date.now() < this.renewedAt + ttlMs - EXPIRY_MARGIN_MS,
      doubt: () => this.wake(),
    });
    this.run.start();
    this.schedule(ttlMs / 3);
  }

  private async renew(): Promise<void> {
    const { topic, claimant, ttlMs, linger, services } = this.options;
    const token = this.token as string;
    const sentAt = Date.now();
    const view = await services.leases.claim({ topic, claimant, ttlMs, interested: this.local, token });
    if (this.closed || this.token !== token) return;
    if (!view.held) {
      this.lose("lost");
      return this.local ? this.schedule(0) : this.finish();
    }
    this.renewed(sentAt);
    if (view.interest > 0) {
      this.idleSince = null;
      return this.schedule(ttlMs / 3);
    }
    const now = Date.now();
    this.idleSince ??= now;
    const lingered = now - this.idleSince;
    if (lingered < linger) return this.schedule(Math.min(ttlMs / 3, linger - lingered));
    const outcome = await services.leases.release({ topic, token, claimant, ifIdle: true });
    if (this.closed || this.token !== token) return;
    if (outcome === "busy") {
      this.idleSince = null;
      return this.schedule(ttlMs / 3);
    }
    this.lose(outcome === "released" ? "linger" : "lost");
    if (this.local) this.schedule(0);
    else this.finish();
  }

  private renewed(sentAt: number): void {
    this.renewedAt = sentAt;
    if (this.expiry) clearTimeout(this.expiry);
    const token = this.token;
    this.expiry = setTimeout(() => {
      if (this.token !== token) return;
      this.lose("expired");
      this.wake();
    }, sentAt + this.options.ttlMs - EXPIRY_MARGIN_MS - Date.now());
  }

  private lose(reason: StopReason): void {
    this.token = null;
    this.idleSince = null;
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = null;
    this.run?.stop(reason);
    this.run = null;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), ms);
  }

  private finish(): void {
    this.clearTimers();
    this.options.onDone();
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.expiry) clearTimeout(this.expiry);
    this.timer = this.expiry = null;
  }
}

/** When a claimant that did not get the lease tries again: just after it expires, and at least every ttl/3. */
function retryAfter(view: LeaseView, ttlMs: number): number {
  return view.ttlLeft > 0 ? Math.min(ttlMs / 3, view.ttlLeft + 20) : Math.min(ttlMs / 3, 50);
}
