import { timingSafeEqual } from "node:crypto";

/** Whether `given` is `expected`, compared in constant time (keys of the HTTP endpoints and the dashboard). */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
