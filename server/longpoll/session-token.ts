import { createHmac, timingSafeEqual } from "node:crypto";

/** Which session a LongPoll token names, and the thread that owns it (the relay reads it). */
export interface SessionRef {
  node: string;
  /** The owner's worker index (0 on a single-thread node). */
  worker: number;
  /** Random, unique per session. */
  id: string;
}

/** A session token older than this is refused (as Phoenix's LongPoll token's max age): the client starts a new session. */
export const SESSION_TOKEN_MAX_AGE_MS = 14 * 24 * 3600 * 1000;

export type TokenCheck = { ok: true; ref: SessionRef } | { ok: false; reason: "invalid" | "expired" };

/**
 * Signs and verifies LongPoll session tokens: `base64url(JSON [node, worker, id, signedAt])`,
 * a dot, and the base64url HMAC-SHA256 of the first part. Any thread of the cluster holding the
 * same key verifies a token before it relays the request to the owner it names, so a forged
 * token never crosses the fabric. Tokens are never logged.
 */
export class SessionTokens {
  private readonly key: Buffer;

  /** `secret`: the cluster's secretKeyBase, or a key the node's threads share. */
  constructor(secret: string) {
    this.key = createHmac("sha256", secret).update("cinder longpoll session").digest();
  }

  sign(ref: SessionRef, now = Date.now()): string {
    const body = Buffer.from(JSON.stringify([ref.node, ref.worker, ref.id, now])).toString("base64url");
    return `${body}.${this.mac(body)}`;
  }

  verify(token: string, now = Date.now()): TokenCheck {
    const dot = token.indexOf(".");
    // A token is small: a long one is refused before any work.
    if (dot <= 0 || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: "invalid" };
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), "base64url");
    const expected = Buffer.from(this.mac(body), "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "invalid" };
    let fields: unknown;
    try {
      fields = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
    } catch {
      return { ok: false, reason: "invalid" };
    }
    if (!Array.isArray(fields) || fields.length !== 4) return { ok: false, reason: "invalid" };
    const [node, worker, id, signedAt] = fields as unknown[];
    if (typeof node !== "string" || !Number.isInteger(worker) || typeof id !== "string" || typeof signedAt !== "number") return { ok: false, reason: "invalid" };
    if (now - signedAt > SESSION_TOKEN_MAX_AGE_MS) return { ok: false, reason: "expired" };
    return { ok: true, ref: { node, worker: worker as number, id } };
  }

  private mac(body: string): string {
    return createHmac("sha256", this.key).update(body).digest("base64url");
  }
}

const MAX_TOKEN_LENGTH = 1024;
