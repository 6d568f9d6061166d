/**
 * README's "Recovery with the official phoenix.js client", as written there, so the chaos run
 * tests what users are told to do. One addition: a payload's `_e` (the epoch its `_o` belongs
 * to), when present, replaces the remembered epoch. Keep this in step with README's recipe.
 */
import type { Channel, Push, Socket } from "phoenix";

import type { Position, Recovery } from "./ledger.js";

export interface RecipeHooks {
  /** The recipe's `reloadState()`: the join did not recover (the first join, or too much missed). */
  reloadState(recovery: Recovery): void;
  /** Called with the params of every join as it is sent (what the server sees, `_since` included). */
  joinSent?(params: Record<string, unknown>): void;
}

export interface RecoveringChannel {
  readonly channel: Channel;
  /** The join push: its `receive` callbacks run on every join reply, rejoins included. */
  readonly join: Push;
  /** The position the recipe would send now. */
  position(): Position | null;
}

interface Payload {
  _o?: unknown;
  _e?: unknown;
}

export function joinRecovering(socket: Socket, topic: string, params: Record<string, unknown>, hooks: RecipeHooks): RecoveringChannel {
  let last: Position | null = null; // {o, e}: the last offset received, and the epoch
  const joinParams = () => {
    const sent = last ? { ...params, _since: last } : params;
    hooks.joinSent?.(sent);
    return sent;
  };
  // phoenix.js calls a params function at every (re)join; its types only admit an object.
  const channel = socket.channel(topic, joinParams as unknown as object);
  channel.onMessage = (_event: string, payload: Payload | null) => {
    if (last && typeof payload?._o === "number") last = { o: payload._o, e: typeof payload._e === "string" ? payload._e : last.e };
    return payload; // onMessage must return the payload
  };
  const join = channel.join().receive("ok", ({ _recovery: r }: { _recovery?: Recovery }) => {
    if (r && !r.recovered) {
      last = { o: r.o, e: r.e };
      hooks.reloadState(r);
    }
  });
  return { channel, join, position: () => last };
}
