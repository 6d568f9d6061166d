import type { Params } from "./message.js";

/**
 * What the server answers in `_recovery` on a join of a topic that keeps history: whether the
 * messages missed since `_since` follow the reply, and the topic's position (`o`) and epoch (`e`).
 */
export interface Recovery {
  recovered: boolean;
  o: number;
  e: string;
}

export type RecoverCallback = (recovery: Recovery) => void;

/**
 * Where a channel is in its topic's history: the offset (`_o`) of the last message it handed
 * to the app, and the epoch (`_e`) that offset belongs to — from the last join reply until a
 * message brings its own (the history may start again while the channel stays joined). Once an
 * epoch is known, every join sends `_since: {o, e}` so the server replays what was missed.
 */
export class HistoryPosition {
  o = 0;
  e: string | null = null;

  /**
   * Notes the offset of an incoming payload, if it is an object with a numeric `_o`, and its
   * epoch `_e` once a join reply told one (so an app's own `_e` on a topic without history is
   * never taken for an epoch).
   */
  see(payload: unknown): void {
    const message = payload as { _o?: unknown; _e?: unknown } | null | undefined;
    if (typeof message?._o !== "number") return;
    this.o = message._o;
    if (this.e && typeof message._e === "string" && message._e) this.e = message._e;
  }

  /**
   * Reads `_recovery` from a join reply's response. The epoch is taken at once; the offset
   * only when nothing is replayed: a replay brings the position there message by message, so
   * a connection cut in the middle of one resumes from what really arrived.
   */
  joined(response: unknown): Recovery | null {
    const reply = (response as { _recovery?: Partial<Recovery> } | null | undefined)?._recovery;
    if (typeof reply?.o !== "number" || typeof reply.e !== "string") return null;
    const recovery: Recovery = { recovered: reply.recovered === true, o: reply.o, e: reply.e };
    if (!recovery.recovered) this.o = recovery.o;
    // No epoch (the server could not read the history): nothing to recover from next time.
    this.e = recovery.e || null;
    return recovery;
  }

  /** The join params, with `_since` once there is a position; the app's own params are not changed. */
  joinParams(params: Params): Params {
    return this.e === null ? params : { ...params, _since: { o: this.o, e: this.e } };
  }
}
