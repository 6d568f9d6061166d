import type { Opened } from "../support/opened.js";
import type { RawClient, RawFrame } from "../support/raw-client.js";

/** A join reply's `_recovery`. */
export type Recovery = { recovered: boolean; o: number; e: string };
/** Where a client left a topic's history: `_since` of a join. */
export type Since = { o: number; e: string };

/** The history tests' member: in the demo room's terms, and outside its presence list. */
export const MEMBER = { user: "u", presence: false };

/**
 * A raw client of `target` joined to `topic` (join_ref "j"), from `since` when given, and the
 * join reply's `_recovery`; fails unless the join is answered ok.
 */
export async function joinWithRecovery(
  opened: Opened,
  target: { port: number },
  topic: string,
  since?: Since,
  payload: Record<string, unknown> = MEMBER,
): Promise<{ client: RawClient; recovery: Recovery }> {
  const client = await opened.raw(target);
  const { _recovery } = await client.joined<{ _recovery: Recovery }>(topic, { ...payload, ...(since ? { _since: since } : {}) }, "j");
  return { client, recovery: _recovery };
}

/** The `event` pushes a client got, in order: offset, epoch and body. */
export function received(client: RawClient, event = "new_msg"): Array<{ o: number; e: string; body: string }> {
  return client.frames
    .filter((f: RawFrame) => f[3] === event)
    .map((f) => {
      const { _o, _e, body } = f[4] as { _o: number; _e: string; body: string };
      return { o: _o, e: _e, body };
    });
}

/** The offsets of the `event` pushes a client got, in order. */
export const offsets = (client: RawClient, event = "new_msg"): number[] => received(client, event).map((m) => m.o);
