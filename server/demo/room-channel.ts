import type { ChannelHandler } from "../channel/handler.js";
import { error, ok } from "../channel/results.js";

interface RoomAssigns extends Record<string, unknown> {
  user: string;
  presence: boolean;
}

const MAX_BODY = 4000;

/**
 * The demo chat, also used by benchmarks and checks:
 * join `room:*` with `{user}` (and `presence: false` to stay out of the presence list);
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
    socket.push("presence_state", socket.listPresence());
    socket.track(socket.assigns.user, { online_at: String(Date.now()) });
  },

  handleIn(event, payload, socket) {
    if (event === "ping") return ok({});
    if (event !== "new_msg") return error({ reason: `unknown event ${event}` });
    const body = (payload as { body?: unknown }).body;
    if (typeof body !== "string" || body.length === 0) return error({ reason: "body must be a non-empty string" });
    if (body.length > MAX_BODY) return error({ reason: `body longer than ${MAX_BODY} characters` });
    socket.broadcast("new_msg", { user: socket.assigns.user, body });
    return ok();
  },
};
