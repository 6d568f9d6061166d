import { randomUUID } from "node:crypto";
import type { WebhookEventType } from "./webhook-settings.js";

/**
 * One event as a backend receives it, in a batch's `events` (docs/webhooks.md). `id` is unique
 * per event and kept across retries: a backend de-duplicates by it. `at` is when the node that
 * sends it decided it, ms since the epoch.
 */
export type WebhookEvent =
  | { id: string; type: "channel_occupied" | "channel_vacated"; topic: string; at: number }
  | { id: string; type: "member_added"; topic: string; key: string; meta: Record<string, unknown>; at: number }
  | { id: string; type: "member_removed"; topic: string; key: string; at: number }
  | { id: string; type: "client_event"; topic: string; event: string; payload: unknown; userId?: string; at: number };

/** What a thread reports, before an id and a time make it an event. */
export type WebhookFact = DistributiveOmit<WebhookEvent, "id" | "at">;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export function eventOf(fact: WebhookFact): WebhookEvent {
  return { id: randomUUID(), ...fact, at: Date.now() } as WebhookEvent;
}

export function isEventType(fact: WebhookFact, types: ReadonlySet<WebhookEventType>): boolean {
  return types.has(fact.type);
}
