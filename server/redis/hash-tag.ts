import { createHash } from "node:crypto";

/**
 * The `{…}` part of a Redis key: every key built around the same name hashes to one Redis
 * Cluster slot, so one script or one multi-key command may touch them all. A name that holds
 * braces itself would cut the tag short, so it is replaced by its SHA-1.
 */
export function hashTag(name: string): string {
  return `{${/[{}]/.test(name) ? createHash("sha1").update(name).digest("hex") : name}}`;
}
