import type { HistoryLimits } from "../fabric/fabric.js";
import type { ChannelHandler } from "./handler.js";

function checkHistoryLimits(pattern: string, limits: HistoryLimits): void {
  const { size, ttl } = limits;
  if (!Number.isInteger(size) || size < 1 || size > 100_000) throw new TypeError(`channel "${pattern}": history.size must be an integer from 1 to 100000`);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 30 * 86_400) throw new TypeError(`channel "${pattern}": history.ttl must be a whole number of seconds from 1 to 2592000`);
}

interface Route {
  pattern: string;
  prefix: string | null;
  handler: ChannelHandler;
}

/**
 * Topic → handler, as Phoenix's `channel "room:*", RoomChannel`: a pattern is an exact topic,
 * or a prefix ending in `*`. The first registered match wins; exact topics are checked first.
 */
export class ChannelRouter {
  private readonly exact = new Map<string, Route>();
  private readonly prefixed: Route[] = [];

  add(pattern: string, handler: ChannelHandler): void {
    if (typeof pattern !== "string" || pattern.length === 0) throw new TypeError("channel pattern must be a non-empty string");
    const star = pattern.indexOf("*");
    if (star !== -1 && star !== pattern.length - 1) {
      throw new TypeError(`channel pattern "${pattern}": "*" is only allowed at the end`);
    }
    if (typeof handler?.join !== "function") throw new TypeError(`channel "${pattern}" needs a join function`);
    if (handler.history) checkHistoryLimits(pattern, handler.history);
    const route: Route = { pattern, prefix: star === -1 ? null : pattern.slice(0, -1), handler };
    if (route.prefix === null) {
      if (this.exact.has(pattern)) throw new TypeError(`channel "${pattern}" is already declared`);
      this.exact.set(pattern, route);
    } else {
      if (this.prefixed.some((r) => r.pattern === pattern)) throw new TypeError(`channel "${pattern}" is already declared`);
      this.prefixed.push(route);
    }
  }

  match(topic: string): ChannelHandler | undefined {
    const exact = this.exact.get(topic);
    if (exact) return exact.handler;
    for (const route of this.prefixed) {
      if (topic.startsWith(route.prefix as string)) return route.handler;
    }
    return undefined;
  }
}
