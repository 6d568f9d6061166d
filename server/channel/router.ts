import type { HistoryDeclarations, HistoryLimits } from "../history/history.js";
import type { PresenceFetch, PresenceFetchDeclarations } from "../presence/presence-fetch.js";
import type { ChannelHandler } from "./handler.js";
import { TopicPatterns } from "./topic-patterns.js";

/** The longest a topic's history may be kept after its last message: 30 days. */
const MAX_HISTORY_TTL_MS = 30 * 86_400_000;

function checkHistoryLimits(pattern: string, limits: HistoryLimits): void {
  const { size, ttlMs } = limits;
  // `ttl` was in seconds: a value meant as seconds must not be read as milliseconds.
  if ("ttl" in limits) throw new TypeError(`channel "${pattern}": history.ttl (seconds) is now history.ttlMs, in milliseconds`);
  if (!Number.isInteger(size) || size < 1 || size > 100_000) throw new TypeError(`channel "${pattern}": history.size must be an integer from 1 to 100000`);
  if (!Number.isInteger(ttlMs) || ttlMs < 1000 || ttlMs > MAX_HISTORY_TTL_MS) {
    throw new TypeError(`channel "${pattern}": history.ttlMs must be an integer from 1000 to ${MAX_HISTORY_TTL_MS} (milliseconds)`);
  }
}

/** Topics Cinder keeps for itself (the dashboard's): no app channel matches them. */
export const RESERVED_PREFIX = "cinder:";

/**
 * Topic → handler, by TopicPatterns' rules (exact topics, or prefixes ending in `*`). Topics
 * under RESERVED_PREFIX go only to Cinder's own channels, so that an app's catch-all pattern
 * never lets a client into them. The channels of backend hooks (`hooks.channels`) are asked only
 * when no app channel matches: a TypeScript handler for a topic wins over any hook pattern.
 */
export class ChannelRouter implements HistoryDeclarations, PresenceFetchDeclarations {
  private readonly patterns = new TopicPatterns<ChannelHandler>();
  private readonly reserved = new Map<string, ChannelHandler>();
  private readonly hooked = new TopicPatterns<ChannelHandler>();

  /** A channel of backend hooks: matched only by topics no app channel matches. */
  addHooked(pattern: string, handler: ChannelHandler): void {
    if (pattern.startsWith(RESERVED_PREFIX)) throw new TypeError(`hooks.channels "${pattern}": topics starting with ${RESERVED_PREFIX} are reserved for Cinder`);
    this.hooked.add(pattern, handler, "hooks.channels");
  }

  /** One of Cinder's own channels, at an exact topic under RESERVED_PREFIX. */
  addReserved(topic: string, handler: ChannelHandler): void {
    if (!topic.startsWith(RESERVED_PREFIX)) throw new TypeError(`reserved topics start with ${RESERVED_PREFIX}`);
    this.reserved.set(topic, handler);
  }

  add(pattern: string, handler: ChannelHandler): void {
    if (pattern.startsWith(RESERVED_PREFIX)) throw new TypeError(`channel "${pattern}": topics starting with ${RESERVED_PREFIX} are reserved for Cinder`);
    if (typeof handler?.join !== "function") throw new TypeError(`channel "${pattern}" needs a join function`);
    if (handler.history) checkHistoryLimits(pattern, handler.history);
    if (handler.presenceFetch !== undefined && typeof handler.presenceFetch !== "function") throw new TypeError(`channel "${pattern}": presenceFetch must be a function`);
    this.patterns.add(pattern, handler, "channel");
  }

  match(topic: string): ChannelHandler | undefined {
    if (topic.startsWith(RESERVED_PREFIX)) return this.reserved.get(topic);
    return this.patterns.match(topic) ?? this.hooked.match(topic);
  }

  historyOf(topic: string): HistoryLimits | undefined {
    return this.match(topic)?.history;
  }

  presenceFetchOf(topic: string): PresenceFetch | undefined {
    return this.match(topic)?.presenceFetch;
  }
}
