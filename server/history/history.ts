/** How much history a topic keeps: at most `size` messages, dropped with its epoch `ttlMs` after the last one. */
export interface HistoryLimits {
  size: number;
  ttlMs: number;
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

/** The lane a worker reads a topic's history on, from its node's main thread (which may ask Redis). */
export const HISTORY_READ_LANE = "history";

/** A question on the history read lane; its answer is a HistoryPage, or null when the authority could not be read. */
export interface HistoryReadQuestion {
  topic: string;
  since: number;
  limit: number;
  limits: HistoryLimits;
}
