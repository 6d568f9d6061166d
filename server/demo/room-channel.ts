import type { ChannelHandler } from "../channel/handler.js";
import type { ChannelSocket } from "../channel/channel-socket.js";
import { error, ok, type Payload, type Reply } from "../channel/results.js";
import type { Counters } from "../counters/counters.js";

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

  handleIn: (event, payload, socket) => roomPush(event, payload, socket),
};

/** A push to a room: `ping`, or `new_msg` broadcast to the room. */
function roomPush(event: string, payload: Payload, socket: ChannelSocket<RoomAssigns>): Reply {
  if (event === "ping") return ok({});
  if (event !== "new_msg") return error({ reason: `unknown event ${event}` });
  const body = (payload as { body?: unknown }).body;
  if (typeof body !== "string" || body.length === 0) return error({ reason: "body must be a non-empty string" });
  if (body.length > MAX_BODY) return error({ reason: `body longer than ${MAX_BODY} characters` });
  socket.broadcast("new_msg", { user: socket.assigns.user, body });
  return ok();
}

/**
 * The demo chat that also counts: every message sent counts on the room's counter (its key is
 * the topic, `room:<name>`) and its sender as an actor, so `counter:room:<name>` shows the
 * messages and the distinct people of the last 6 hours.
 */
export function countedRoomChannel(counters: Counters): ChannelHandler<RoomAssigns> {
  return {
    ...roomChannel,
    handleIn(event, payload, socket) {
      const result = roomPush(event, payload, socket);
      if (event === "new_msg" && result.status === "ok") {
        counters.incr(socket.topic);
        counters.addActor(socket.topic, socket.assigns.user);
      }
      return result;
    },
  };
}
