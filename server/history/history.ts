import type { StoredBroadcast } from "./store-error.js";

/** How much history a topic keeps: at most `size` messages, dropped with its epoch `ttlMs` after the last one. */
export interface HistoryLimits {
  size: number;
  ttlMs: number;
}

/** Which topics keep history, and how much: their channels' declarations (channel/router.ts). */
export interface HistoryDeclarations {
  /** The limits `topic`'s channel declares; undefined for a topic that keeps no history. */
  historyOf(topic: string): HistoryLimits | undefined;
}

/** A broadcast to a history topic before it has its offset: the payload is a JSON object's text. */
export interface HistoryAppend {
  topic: string;
  event: string;
  payload: string;
  limits: HistoryLimits;
  except?: string;
}

/** What a topic's history holds after `since`: its epoch, its top offset, and the frames (V2 JSON, `_o` in the payload) after `since`, oldest first. */
export interface HistoryPage {
  epoch: string;
  top: number;
  entries: Array<{ offset: number; frame: string }>;
}

/**
 * A topic's one authority for its history: it gives each broadcast to a history topic the next
 * offset, keeps it, and delivers it to every replica with interest — the sending one included.
 * One implementation per place it lives, beside this file: history-memory.ts (this thread, or a
 * node's main thread), history-workers.ts (a worker: its node's main thread), history-redis.ts
 * (a node in a cluster: Redis).
 */
export interface HistoryAuthority {
  /** Numbers, keeps and delivers `message`, unconfirmed. */
  append(message: HistoryAppend): void;
  /**
   * `append`, confirmed: resolves once the authority has numbered and kept the message, with its
   * offset and epoch, or rejects with a StoreError (store-error.ts) — at the latest after
   * historyStoreTimeoutMs. Stores and appends of one thread keep their order.
   */
  store(message: HistoryAppend): Promise<StoredBroadcast>;
  /** What the authority holds of `topic` after offset `since` (at most `limit` entries). */
  read(topic: string, since: number, limit: number, limits: HistoryLimits): Promise<HistoryPage>;
}
