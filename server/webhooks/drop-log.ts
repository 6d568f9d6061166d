import type { Logger } from "../ops/logger.js";
import type { WebhookEvent } from "./webhook-event.js";

/** At most one log line per this many ms about dropped events (a full queue drops many in a burst). */
const LOG_EVERY_MS = 1000;
/** Ids and topics named in one line, at most. */
const SAMPLE = 10;

/**
 * Says in the log what webhooks dropped: the first drop at once, then one line per second
 * while drops go on, each with the count by reason and type and a sample of ids and topics.
 */
export class DropLog {
  private pending: { count: number; byReason: Record<string, number>; byType: Record<string, number>; sample: Array<{ id: string; type: string; topic: string }> } | undefined;
  private lastAt = -Infinity;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly log: Logger) {}

  add(events: readonly WebhookEvent[], reason: string): void {
    const pending = (this.pending ??= { count: 0, byReason: {}, byType: {}, sample: [] });
    pending.count += events.length;
    pending.byReason[reason] = (pending.byReason[reason] ?? 0) + events.length;
    for (const event of events) {
      pending.byType[event.type] = (pending.byType[event.type] ?? 0) + 1;
      if (pending.sample.length < SAMPLE) pending.sample.push({ id: event.id, type: event.type, topic: event.topic });
    }
    const wait = this.lastAt + LOG_EVERY_MS - Date.now();
    if (wait <= 0) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), wait);
      this.timer.unref?.();
    }
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending) return;
    this.lastAt = Date.now();
    const { count, byReason, byType, sample } = this.pending;
    this.pending = undefined;
    this.log.warn({ dropped: count, byReason, byType, sample }, "webhook events dropped");
  }
}
