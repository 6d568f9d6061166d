import type { ChannelHandler, PushRef } from "../channel/handler.js";
import type { ChannelSocket } from "../channel/channel-socket.js";
import { error, noReply, ok, type NoReply, type Payload, type Reply } from "../channel/results.js";
import type { Counters } from "../counters/counters.js";
import { CounterError } from "../counters/counter-window.js";
import { StoreError } from "../history/store-error.js";

interface RoomAssigns extends Record<string, unknown> {
  user: string;
  presence: boolean;
}

const MAX_BODY = 4000;

/**
 * The demo chat, also used by benchmarks and checks:
 * join `room:*` with `{user}` (and `presence: false` to stay out of the presence list, or
 * `presence: "count"` to follow it as `presence_count` instead of the list);
 * `new_msg {body}` is broadcast to the room as `new_msg {user, body}`; `ping` replies `{}`.
 * Mounted with `history` (`{...roomChannel, history: {size, ttlMs}}`), a `new_msg` is answered ok
 * only once the room's history has kept it, else `{reason: "not_stored", cause}`
 * (docs/history-and-recovery.md): the client may send it again.
 */
export const roomChannel: ChannelHandler<RoomAssigns> = {
  join(_topic, params, socket) {
    const user = typeof params.user === "string" ? params.user.trim().slice(0, 64) : "";
    if (!user) return error({ reason: "join with a user name: {user: \"ada\"}" });
    socket.assigns.user = user;
    socket.assigns.presence = params.presence !== false;
    return ok();
  },

  afterJoin(socket) {
    if (!socket.assigns.presence) return;
    // A client that follows the count gets presence_count from the server: no list to build.
    socket.pushPresenceState();
    socket.track(socket.assigns.user, { online_at: String(Date.now()) });
  },

  // `this` is the handler the channel was mounted with: a spread with `history` keeps its messages.
  handleIn(event, payload, socket, ref) {
    return roomPush(event, payload, socket, ref, this.history !== undefined);
  },
};

/**
 * A push to a room: `ping`, or `new_msg` broadcast to the room; `sent` runs for each message
 * that went out (kept, in a room with history). In a room with history the push is answered once
 * the message is kept: the channel goes on meanwhile (noReply), so a client's burst of messages
 * is stored in order, one right behind the other, instead of one round trip at a time.
 */
function roomPush(event: string, payload: Payload, socket: ChannelSocket<RoomAssigns>, ref: PushRef, stored: boolean, sent?: () => void): Reply | NoReply {
  if (event === "ping") return ok({});
  if (event !== "new_msg") return error({ reason: `unknown event ${event}` });
  const body = (payload as { body?: unknown }).body;
  if (typeof body !== "string" || body.length === 0) return error({ reason: "body must be a non-empty string" });
  if (body.length > MAX_BODY) return error({ reason: `body longer than ${MAX_BODY} characters` });
  const message = { user: socket.assigns.user, body };
  if (!stored) {
    socket.broadcast("new_msg", message);
    sent?.();
    return ok();
  }
  socket.broadcastStored("new_msg", message).then(
    () => {
      socket.reply(ref, ok());
      sent?.();
    },
    // Not kept (or not known to be): an error the client may send the message again on.
    (err: unknown) => socket.reply(ref, error({ reason: "not_stored", cause: err instanceof StoreError ? err.reason : "failed" })),
  );
  return noReply();
}

/**
 * The demo chat that also counts: every message sent counts on the room's counter (its key is
 * the topic, `room:<name>`) and its sender as an actor, so `counter:room:<name>` shows the
 * messages and the distinct people of the last 6 hours.
 */
export function countedRoomChannel(counters: Counters): ChannelHandler<RoomAssigns> {
  return {
    ...roomChannel,
    handleIn(event, payload, socket, ref) {
      return roomPush(event, payload, socket, ref, this.history !== undefined, () => {
        try {
          counters.incr(socket.topic);
          counters.addActor(socket.topic, socket.assigns.user);
        } catch (err) {
          // A room whose name cannot be a counter key (over 256 characters) is not counted.
          if (!(err instanceof CounterError)) throw err;
        }
      });
    },
  };
}
