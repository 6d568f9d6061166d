import type { HistoryRead } from "../history/history-read.js";
import type { PresenceMap } from "../presence/presence-service.js";

/** Presence keys a lookup lists (the count is always complete). */
export const LOOKUP_PRESENCE_KEYS = 100;
/** Recent messages a lookup shows, on a topic with history. */
export const LOOKUP_MESSAGES = 10;

/** What the dashboard's search box shows of one topic. */
export interface TopicLookup {
  topic: string;
  /** Subscribers on each node that answered. */
  nodes: Array<{ node: string; subscribers: number }>;
  presence: { keys: number; metas: number; list: Array<{ key: string; metas: number }> };
  /** The last messages, or null for a topic without history (or unreadable now). */
  history: HistoryRead["messages"] | null;
}

export interface TopicLookupSources {
  /** Subscribers of `topic` on every node (this one first). */
  subscribers: (topic: string) => Promise<Array<{ node: string; subscribers: number }>>;
  presence: (topic: string) => PresenceMap;
  /** The topic's history after `since`, or null when its channel keeps none. */
  history: (topic: string, since: number, limit: number) => Promise<HistoryRead | null>;
}

export async function lookUpTopic(topic: string, sources: TopicLookupSources): Promise<TopicLookup> {
  const map = sources.presence(topic);
  const keys = Object.keys(map);
  const list = keys.slice(0, LOOKUP_PRESENCE_KEYS).map((key) => ({ key, metas: map[key].metas.length }));
  const metas = keys.reduce((total, key) => total + map[key].metas.length, 0);
  const [nodes, history] = await Promise.all([sources.subscribers(topic), lastMessages(topic, sources)]);
  return { topic, nodes, presence: { keys: keys.length, metas, list }, history };
}

async function lastMessages(topic: string, sources: TopicLookupSources): Promise<TopicLookup["history"]> {
  try {
    const head = await sources.history(topic, 0, 0);
    if (!head) return null;
    const page = await sources.history(topic, Math.max(0, head.top - LOOKUP_MESSAGES), LOOKUP_MESSAGES);
    return page?.messages ?? null;
  } catch {
    return null;
  }
}
