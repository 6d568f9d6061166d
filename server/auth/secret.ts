import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Whether `given` is `expected` (keys of the HTTP endpoints and the dashboard), in constant time:
 * both are hashed first, so neither the content nor the length of the key leaks through timing.
 */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
