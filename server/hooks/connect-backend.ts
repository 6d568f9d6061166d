import { ConnectUnavailable, type ConnectHook } from "../endpoint/connect-hook.js";
import { FAILURE_REASONS, type HookCaller } from "./hook-caller.js";
import { HOOK_SESSION, type HookSession } from "./hook-session.js";
import type { HookEndpoint } from "../settings/hooks-setting.js";

/**
 * The connect hook asked of the backend: it gets the connect params (the query string, `vsn`
 * included) and the headers its endpoint names, and answers `{"allow": true, "userId"?,
 * "assigns"?, "topics"?}` or `{"allow": false}` (HTTP 403). When it cannot answer, the socket is
 * refused with 503, so a client tells "not allowed" from "try again".
 */
export function connectBackend(endpoint: HookEndpoint, caller: HookCaller): ConnectHook {
  return async (params, info) => {
    const headers: Record<string, string> = {};
    for (const name of endpoint.headers) if (info.headers[name] !== undefined) headers[name] = info.headers[name];
    const answer = await caller.call("connect", endpoint, {
      params,
      headers,
      remoteAddress: info.remoteAddress,
      userId: info.identity?.userId,
      assigns: info.identity?.meta ?? {},
    });
    if (!answer.ok) throw new ConnectUnavailable(FAILURE_REASONS[answer.failure]);
    const { body } = answer;
    if (body.allow !== true) {
      caller.count("connect", "deny");
      return false;
    }
    caller.count("connect", "allow");
    const userId = typeof body.userId === "string" && body.userId !== "" ? body.userId : info.identity?.userId;
    const topics = Array.isArray(body.topics) ? body.topics.filter((topic): topic is string => typeof topic === "string") : [];
    const session: HookSession = { userId, topics: new Set(topics) };
    const assigns = isPlainObject(body.assigns) ? body.assigns : {};
    return { id: userId, assigns: { ...assigns, [HOOK_SESSION]: session } };
  };
}

export const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
