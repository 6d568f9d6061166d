/**
 * Who a verified token says a socket is, whatever the token kind. Built from the claims Cinder
 * understands: `sub` (the user), `channels` (topic patterns the socket may join) and `meta`
 * (server-only data for the socket's assigns).
 */
export interface Identity {
  /** The token's `sub`: the user. Channels see it as `socket.userId`. */
  readonly userId: string | undefined;
  /** Topic patterns (`"room:lobby"`, `"room:*"`) this token may join; undefined: any topic. */
  readonly channels: readonly string[] | undefined;
  /** The token's `meta` object, copied into the socket's assigns. */
  readonly meta: Readonly<Record<string, unknown>>;
  /** When the token stops being valid, ms since the epoch; null: never. */
  readonly expiresAt: number | null;
  /** Which verifier accepted it. */
  readonly scheme: "phoenixToken" | "jwt";
  /** Everything the token carried: the JWT's payload, or the Phoenix.Token's data. */
  readonly claims: unknown;
}

/** Why a token was refused; the reason a client and the log see (never the token). */
export type AuthRefusal = "missing" | "invalid" | "expired";

export type AuthOutcome = { ok: true; identity: Identity } | { ok: false; reason: AuthRefusal; /** For the log. */ detail: string };

/** The three claims, read from a JWT payload or a Phoenix.Token's map; a malformed one refuses the token. */
export function readClaims(claims: Record<string, unknown>): { userId: string | undefined; channels: string[] | undefined; meta: Record<string, unknown> } | string {
  const { sub, channels, meta } = claims;
  if (sub !== undefined && sub !== null && typeof sub !== "string" && typeof sub !== "number") return "sub must be a string or a number";
  if (channels !== undefined && (!Array.isArray(channels) || !channels.every(isPattern))) return "channels must be a list of topic patterns";
  if (meta !== undefined && (typeof meta !== "object" || meta === null || Array.isArray(meta))) return "meta must be an object";
  return {
    userId: sub === undefined || sub === null ? undefined : String(sub),
    channels: channels as string[] | undefined,
    meta: { ...(meta as Record<string, unknown> | undefined) },
  };
}

function isPattern(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && (!value.includes("*") || value.indexOf("*") === value.length - 1);
}

/** Whether `topic` matches one of the patterns, with the channel router's rules (exact, or a prefix ending in `*`). */
export function topicAllowed(patterns: readonly string[] | undefined, topic: string): boolean {
  if (patterns === undefined) return true;
  return patterns.some((pattern) => (pattern.endsWith("*") ? topic.startsWith(pattern.slice(0, -1)) : topic === pattern));
}
