import type { ChannelHandler } from "../channel/handler.js";
import { error, ok, type Payload } from "../channel/results.js";
import { sameSecret } from "../auth/secret.js";
import { MAX_QUESTION_TOPIC } from "./node-lane.js";
import type { DashboardFeed } from "./dashboard-feed.js";
import type { TopicLookup } from "./topic-lookup.js";

/** The dashboard's topic: reserved (see ChannelRouter), so only this channel serves it. */
export const DASHBOARD_TOPIC = "cinder:dashboard";

/** The connect param the dashboard page's socket sends, with the key as its auth token (see admission). */
export const DASHBOARD_SOCKET_PARAM = "cinder_dashboard";

export interface DashboardChannelOptions {
  /** The key a dashboard joins with; undefined = open (demo only; see resolveConfig). */
  key: string | undefined;
  feed: DashboardFeed;
  lookUp: (topic: string) => Promise<TopicLookup>;
}

interface DashboardAssigns extends Record<string, unknown> {
  watching?: boolean;
}

/**
 * The dashboard's channel: a join with the right key (`{key}`) starts the feed's `cluster`
 * pushes for it; a push `topic` `{topic}` is answered with that topic's lookup. Nodes also
 * broadcast `draining` `{node}` here when they stop.
 */
export function dashboardChannel(options: DashboardChannelOptions): ChannelHandler<DashboardAssigns> {
  return {
    join(_topic, params) {
      const given = typeof params.key === "string" ? params.key : "";
      if (options.key !== undefined && !sameSecret(given, options.key)) return error({ reason: "unauthorized" });
      return ok();
    },
    afterJoin(socket) {
      socket.assigns.watching = true;
      options.feed.watch();
    },
    async handleIn(event, payload) {
      const topic = (payload as { topic?: unknown }).topic;
      if (event !== "topic") return error({ reason: `unknown event ${event}` });
      if (typeof topic !== "string" || topic.length === 0 || topic.length > MAX_QUESTION_TOPIC) return error({ reason: "topic must be a non-empty string" });
      return ok((await options.lookUp(topic)) as unknown as Payload);
    },
    terminate(_reason, socket) {
      if (socket.assigns.watching) options.feed.unwatch();
      socket.assigns.watching = false;
    },
  };
}
