/**
 * What a thread tells its node's webhooks (the node's main thread, in a multi-worker node):
 * structured-clone friendly, so the same message crosses a MessagePort.
 *   occupancy — this thread gained its first (on) or lost its last (off) subscriber of a topic;
 *   presence  — a meta this thread holds joined (on) or left (off) a key of a topic;
 *   client    — a client pushed an event the settings name.
 */
export type WebhookNotice =
  | { k: "occupancy"; topic: string; on: boolean }
  | { k: "presence"; topic: string; key: string; ref: string; on: boolean; meta?: Record<string, unknown> }
  | { k: "client"; topic: string; event: string; payload: unknown; userId?: string };

/** Where a thread's notices go: its node's webhooks, here or on the main thread. */
export interface WebhookNotices {
  notice(notice: WebhookNotice): void;
  close(): Promise<void>;
}
