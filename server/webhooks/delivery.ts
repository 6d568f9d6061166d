import { settleWithin } from "../fabric/settle-within.js";
import type { Logger } from "../ops/logger.js";
import type { WebhookEvent } from "./webhook-event.js";
import type { WebhookMetrics } from "./webhook-metrics.js";
import type { WebhookSettings } from "./webhook-settings.js";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signatureOf } from "./signature.js";
import { DropLog } from "./drop-log.js";
import { BackendPoster } from "./http-post.js";

/** How long a graceful close keeps sending what is held before dropping it (counted `closed`). */
const CLOSE_FLUSH_MS = 5000;

/**
 * A node's webhook sender: a bounded queue of events, sent in batches (batchSize events, or
 * whatever came within batchDelayMs of the first) one POST at a time, each batch signed and
 * retried with exponential backoff and full jitter until the backend answers 2xx (or
 * maxAttempts). Events keep their ids across retries: delivery is at least once. Past maxQueue
 * held events a new one is dropped, counted and logged (DropLog).
 */
export class WebhookDelivery {
  private readonly queue: WebhookEvent[] = [];
  /** The batch being sent (and retried); held events are `queue` plus these. */
  private inFlight: WebhookEvent[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending = false;
  private closing = false;
  private readonly drops: DropLog;
  private readonly abort = new AbortController();
  private readonly poster: BackendPoster;
  /** Resolved when nothing is held any more (a close waits for it). */
  private readonly emptied: Array<() => void> = [];

  constructor(
    private readonly settings: WebhookSettings,
    private readonly metrics: WebhookMetrics,
    private readonly log: Logger,
  ) {
    this.drops = new DropLog(log);
    this.poster = new BackendPoster(settings.url);
  }

  /** Events held: queued and in flight. */
  get held(): number {
    return this.queue.length + this.inFlight.length;
  }

  send(event: WebhookEvent): void {
    if (this.closing) return this.drop([event], "closed");
    if (this.held >= this.settings.maxQueue) return this.drop([event], "queue_full");
    this.metrics.webhookEvents.inc({ type: event.type });
    this.queue.push(event);
    this.metrics.webhookQueue.set(this.held);
    if (this.sending) return;
    if (this.queue.length >= this.settings.batchSize) this.sendNext();
    else this.timer ??= setTimeout(() => this.sendNext(), this.settings.batchDelayMs);
  }

  /** Sends what is held for up to CLOSE_FLUSH_MS (a batch being retried gets no more than that), then drops the rest. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.held === 0) return;
    if (!this.sending) this.sendNext();
    await settleWithin(new Promise<void>((resolve) => this.emptied.push(resolve)), CLOSE_FLUSH_MS);
    this.abort.abort();
    clearTimeout(this.timer);
    const left = [...this.inFlight, ...this.queue];
    this.inFlight = [];
    this.queue.length = 0;
    if (left.length > 0) this.drop(left, "closed");
    this.metrics.webhookQueue.set(0);
    this.drops.flush();
    this.poster.close();
  }

  private sendNext(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sending || this.queue.length === 0) return;
    this.sending = true;
    this.inFlight = this.queue.splice(0, this.settings.batchSize);
    void this.deliver(this.inFlight).finally(() => {
      this.inFlight = [];
      this.sending = false;
      this.metrics.webhookQueue.set(this.held);
      if (this.held === 0) for (const resolve of this.emptied.splice(0)) resolve();
      if (this.queue.length >= this.settings.batchSize || this.closing) this.sendNext();
      else if (this.queue.length > 0) this.timer ??= setTimeout(() => this.sendNext(), this.settings.batchDelayMs);
    });
  }

  /** Posts one batch until a 2xx, or maxAttempts, or the close gives up on it. */
  private async deliver(batch: WebhookEvent[]): Promise<void> {
    const body = JSON.stringify({ events: batch });
    const { maxAttempts, retryMinMs, retryMaxMs } = this.settings;
    for (let attempt = 1; ; attempt++) {
      const failure = await this.post(body);
      if (failure === null) {
        this.metrics.webhookDelivered.inc(batch.length);
        return;
      }
      if (this.abort.signal.aborted) return;
      if (maxAttempts > 0 && attempt >= maxAttempts) {
        this.log.warn({ failure, attempts: attempt }, "webhook batch failed maxAttempts times");
        return this.drop(batch, "attempts");
      }
      // Full jitter: many nodes retrying a backend that came back do not arrive together.
      const ceiling = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(attempt - 1, 30));
      const delay = Math.ceil(ceiling / 2 + (Math.random() * ceiling) / 2);
      this.log.debug({ failure, attempt, delay }, "webhook batch failed; retrying");
      this.metrics.webhookRetries.inc();
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.abort.signal.aborted) return;
    }
  }

  /** One POST: null when the backend acknowledged it, else what went wrong. */
  private async post(body: string): Promise<string | null> {
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      "content-type": "application/json",
      "user-agent": "cinder-webhooks",
      [TIMESTAMP_HEADER]: String(timestamp),
      [SIGNATURE_HEADER]: signatureOf(this.settings.secret, timestamp, body),
    };
    try {
      const status = await this.poster.post(headers, body, this.settings.requestTimeoutMs, this.abort.signal);
      return status >= 200 && status < 300 ? null : `status ${status}`;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  private drop(events: WebhookEvent[], reason: "queue_full" | "attempts" | "closed"): void {
    this.metrics.webhookDropped.inc({ reason }, events.length);
    this.drops.add(events, reason);
  }
}
