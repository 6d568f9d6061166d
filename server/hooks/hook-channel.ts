import type { ChannelHandler } from "../channel/handler.js";
import type { ChannelSocket } from "../channel/channel-socket.js";
import { error, ok, reply, type HandleInResult, type JoinResult, type Payload, type Reply } from "../channel/results.js";
import { isPlainObject } from "./connect-backend.js";
import { FAILURE_REASONS, type HookCaller, type HookKind } from "./hook-caller.js";
import { hookSessionOf } from "./hook-session.js";
import type { ChannelHooks, HookEndpoint } from "../settings/hooks-setting.js";

type Answer = { body: Record<string, unknown>; failed?: undefined } | { body?: undefined; failed: Reply };

const takes = (endpoint: HookEndpoint | undefined, event: string): endpoint is HookEndpoint => endpoint !== undefined && (endpoint.events === undefined || endpoint.events.has(event));

/**
 * The channel of a topic family configured in `hooks.channels`: its joins asked of the join hook,
 * its client pushes of the rpc hook (answered with the backend's reply) or the publish hook
 * (broadcast as sent or as changed, or refused). A failed call is an error reply whose reason
 * says why ("backend timeout"); the channel stays joined.
 */
export function hookChannel(hooks: ChannelHooks, caller: HookCaller): ChannelHandler {
  const fields = (socket: ChannelSocket) => ({
    socketId: socket.socketId,
    userId: hookSessionOf(socket.assigns)?.userId ?? socket.userId,
    assigns: socket.assigns,
    topic: socket.topic,
  });

  /** The backend's answer, or the error reply that says why there is none. */
  const ask = async (kind: HookKind, endpoint: HookEndpoint, socket: ChannelSocket, more: Record<string, unknown>): Promise<Answer> => {
    const answer = await caller.call(kind, endpoint, { ...fields(socket), ...more });
    return answer.ok ? { body: answer.body } : { failed: error({ reason: FAILURE_REASONS[answer.failure] }) };
  };

  const denied = (kind: HookKind, body: Record<string, unknown>) => {
    caller.count(kind, "deny");
    return error({ reason: typeof body.reason === "string" ? body.reason : "unauthorized" });
  };

  return {
    async join(topic, params, socket): Promise<JoinResult> {
      // Allowed at connect (its `topics`), or no join hook for this family: no call.
      if (hookSessionOf(socket.assigns)?.topics.has(topic) || !hooks.join) return ok();
      const { body, failed } = await ask("join", hooks.join, socket, { params });
      if (!body) return failed;
      if (body.allow !== true) return denied("join", body);
      caller.count("join", "allow");
      if (isPlainObject(body.assigns)) Object.assign(socket.assigns, body.assigns);
      return ok((body.response as Payload | undefined) ?? {});
    },

    async handleIn(event, payload, socket): Promise<HandleInResult> {
      const rpc = takes(hooks.rpc, event) ? hooks.rpc : undefined;
      const publish = !rpc && takes(hooks.publish, event) ? hooks.publish : undefined;
      if (!rpc && !publish) return error({ reason: "unmatched event" });
      if (!isPlainObject(payload)) return error({ reason: "hooks take JSON object payloads" });
      if (rpc) {
        const { body, failed } = await ask("rpc", rpc, socket, { event, payload });
        if (!body) return failed;
        caller.count("rpc", "allow");
        return reply(typeof body.status === "string" ? body.status : "ok", (body.response as Payload | undefined) ?? {});
      }
      const { body, failed } = await ask("publish", publish as HookEndpoint, socket, { event, payload });
      if (!body) return failed;
      if (body.allow !== true) return denied("publish", body);
      caller.count("publish", "allow");
      const sent = typeof body.event === "string" ? body.event : event;
      socket.broadcast(sent, isPlainObject(body.payload) ? body.payload : payload);
      return ok();
    },
  };
}
