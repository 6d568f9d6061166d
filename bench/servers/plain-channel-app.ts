/**
 * A Cinder app (`--app`) with the channel raw uWS serves (raw-uws.ts), for comparing what each
 * holds per socket: `bench:*` lets anyone join and keeps the user name the join gives (raw uWS
 * keeps the one its URL gives, one per socket), `new_msg {body}` is broadcast to the topic as
 * `new_msg {user, body}`, and any other event is answered ok. The demo's `bench:*` channel
 * (demo/room-channel.ts) also keeps whether the socket is in the presence list, and checks names
 * and bodies.
 */
import type { ChannelHandler } from "../../server/channel/handler.js";
import { ok } from "../../server/channel/results.js";
import type { CinderServer } from "../../server/server.js";

interface PlainAssigns extends Record<string, unknown> {
  user: string;
}

export const plainChannel: ChannelHandler<PlainAssigns> = {
  join(_topic, params, socket) {
    socket.assigns.user = typeof params.user === "string" ? params.user : "anonymous";
    return ok();
  },
  handleIn(event, payload, socket) {
    if (event === "new_msg") socket.broadcast("new_msg", { user: socket.assigns.user, body: (payload as { body?: unknown }).body });
    return ok();
  },
};

export default function plainChannelApp(server: CinderServer): void {
  server.channel("bench:*", plainChannel);
}
