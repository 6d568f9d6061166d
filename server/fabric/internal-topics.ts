/**
 * Topics the fabric carries for Cinder itself, never for clients: every replica listens to them
 * from its start, so they are left out of the topic counts /health reports.
 *   DISCONNECT_TOPIC — force-disconnects by socket id (auth/disconnect.ts)
 */
export const DISCONNECT_TOPIC = "cinder:disconnect";

export function isInternalTopic(topic: string): boolean {
  return topic === DISCONNECT_TOPIC;
}

/** How many of `topics` are clients' (a count minus the internal topics it holds). */
export function clientTopicCount(size: number, has: (topic: string) => boolean): number {
  return has(DISCONNECT_TOPIC) ? size - 1 : size;
}
