import type { HistoryLimits } from "../fabric/fabric.js";
import type { ChannelHandler } from "./handler.js";
import { TopicPatterns } from "./topic-patterns.js";

function checkHistoryLimits(pattern: string, limits: HistoryLimits): void {
  const { size, ttl } = limits;
  if (!Number.isInteger(size) || size < 1 || size > 100_000) throw new TypeError(`channel "${pattern}": history.size must be an integer from 1 to 100000`);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 30 * 86_400) throw new TypeError(`channel "${pattern}": history.ttl must be a whole number of seconds from 1 to 2592000`);
}

/** Topic → handler, by TopicPatterns' rules (exact topics, or prefixes ending in `*`). */
export class ChannelRouter {
  private readonly patterns = new TopicPatterns<ChannelHandler>();

  add(pattern: string, handler: ChannelHandler): void {
    if (typeof handler?.join !== "function") throw new TypeError(`channel "${pattern}" needs a join function`);
    if (handler.history) checkHistoryLimits(pattern, handler.history);
    this.patterns.add(pattern, handler, "channel");
  }

  match(topic: string): ChannelHandler | undefined {
    return this.patterns.match(topic);
  }
}
