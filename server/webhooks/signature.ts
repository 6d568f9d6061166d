import { createHmac, timingSafeEqual } from "node:crypto";

/** The headers of a signed batch (docs/webhooks.md, "Verifying a batch"). */
export const TIMESTAMP_HEADER = "x-cinder-timestamp";
export const SIGNATURE_HEADER = "x-cinder-signature";

/**
 * `v1=` and the hex HMAC-SHA256, keyed by the secret, of `<timestamp>.<body>`: the timestamp
 * (unix seconds, the header's) is signed with the body, so a captured request cannot be replayed
 * later with a fresh timestamp.
 */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * What a backend checks (the Node form of the docs' examples): the signature matches, compared
 * in constant time, and the timestamp is within `toleranceSeconds` of `now`.
 */
export function verifySignature(secret: string, headers: { timestamp: string | undefined; signature: string | undefined }, body: string, toleranceSeconds = 300, now = Date.now()): boolean {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(now / 1000 - timestamp) > toleranceSeconds || headers.signature === undefined) return false;
  const expected = Buffer.from(signatureOf(secret, timestamp, body));
  const given = Buffer.from(headers.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
