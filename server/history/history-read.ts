import type { HistoryPage } from "./history.js";
import { EPOCH_KEY, OFFSET_KEY } from "./history-frame.js";

/** A page of a topic's history as `server.history()` and `GET /api/history` give it. */
export interface HistoryRead {
  epoch: string;
  /** The topic's latest offset. */
  top: number;
  messages: Array<{ offset: number; event: string; payload: Record<string, unknown> }>;
}

/** Decodes the stored frames (their payloads without the offset and epoch keys, which `offset` and `epoch` give). */
export function readableHistory(page: HistoryPage): HistoryRead {
  const messages = page.entries.map(({ offset, frame }) => {
    const [, , , event, payload] = JSON.parse(frame) as [null, null, string, string, Record<string, unknown>];
    delete payload[OFFSET_KEY];
    delete payload[EPOCH_KEY];
    return { offset, event, payload };
  });
  return { epoch: page.epoch, top: page.top, messages };
}
