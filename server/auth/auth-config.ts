import type { AuthOutcome, Identity } from "./identity.js";
import { readClaims } from "./identity.js";
import { checkJwtConfig, JwtVerifier, type JwtAuthConfig } from "./jwt.js";
import { verifyPhoenixToken } from "./phoenix-token.js";

export type { JwtAuthConfig };

/** Phoenix.Token verification settings (`auth: {phoenixToken: …}`); the key is `secretKeyBase`. */
export interface PhoenixTokenAuthConfig {
  /** The salt the backend signs with: `Phoenix.Token.sign(endpoint, salt, data)`. */
  salt: string;
  /** How long a token is valid after signing, ms; default: the max age signed into it (Phoenix's default: a day). */
  maxAgeMs?: number;
}

/**
 * Built-in socket authentication: one of `phoenixToken` or `jwt`. The token is read from
 * phoenix.js's `authToken` (the WebSocket subprotocol) or the `token` connect param; sockets
 * without a valid one are refused with HTTP 403 before the connect hook runs.
 * Plain data only, so the settings reach worker threads as they are.
 */
export interface AuthConfig {
  phoenixToken?: PhoenixTokenAuthConfig;
  jwt?: JwtAuthConfig;
  /**
   * A connected socket is told (`token_expiring` on each joined channel) this many ms before its
   * token expires, and closed (4401) when it expires unless it sent a fresh `access_token`
   * meanwhile. Default 30,000.
   */
  expiryNoticeMs?: number;
}

/** Verifies the token of a connect or an in-band refresh. */
export interface Authenticator {
  verify(token: string | undefined): AuthOutcome | Promise<AuthOutcome>;
  readonly expiryNoticeMs: number;
}

export function checkAuthConfig(auth: AuthConfig, secretKeyBase: string | undefined): void {
  if (typeof auth !== "object" || auth === null) throw new TypeError("auth must be an object: {phoenixToken: {salt}} or {jwt: {…}}");
  const kinds = (["phoenixToken", "jwt"] as const).filter((kind) => auth[kind] !== undefined);
  if (kinds.length !== 1) throw new TypeError("auth needs exactly one of phoenixToken or jwt");
  const notice = auth.expiryNoticeMs;
  if (notice !== undefined && (!Number.isInteger(notice) || notice < 0 || notice > 86_400_000)) {
    throw new TypeError("auth.expiryNoticeMs must be an integer from 0 to 86400000");
  }
  if (auth.phoenixToken) {
    const { salt, maxAgeMs } = auth.phoenixToken;
    if (typeof salt !== "string" || salt.length === 0) throw new TypeError("auth.phoenixToken.salt must be a non-empty string");
    // It was in seconds: a value meant as seconds must not be read as milliseconds.
    if ("maxAge" in auth.phoenixToken) throw new TypeError("auth.phoenixToken.maxAge (seconds) is now auth.phoenixToken.maxAgeMs, in milliseconds");
    if (maxAgeMs !== undefined && !(typeof maxAgeMs === "number" && maxAgeMs > 0)) throw new TypeError("auth.phoenixToken.maxAgeMs must be a positive number of milliseconds");
    if (!secretKeyBase) throw new TypeError("auth.phoenixToken verifies with secretKeyBase (SECRET_KEY_BASE): set it to the Phoenix endpoint's");
  }
  if (auth.jwt) checkJwtConfig(auth.jwt);
}

/** The verifier a config describes; call checkAuthConfig first. */
export function createAuthenticator(auth: AuthConfig, secretKeyBase: string | undefined, now: () => number = Date.now): Authenticator {
  const expiryNoticeMs = auth.expiryNoticeMs ?? 30_000;
  if (auth.jwt) {
    const jwt = new JwtVerifier(auth.jwt, now);
    return { expiryNoticeMs, verify: (token) => jwt.verify(token) };
  }
  const { salt, maxAgeMs } = auth.phoenixToken as PhoenixTokenAuthConfig;
  const key = secretKeyBase as string;
  return { expiryNoticeMs, verify: (token) => phoenixTokenIdentity(verifyPhoenixToken(key, salt, token, { maxAgeMs, now })) };
}

/**
 * A Phoenix.Token's data as an identity: a string or integer is the user
 * (`Phoenix.Token.sign(endpoint, salt, user.id)`); a map may carry `sub`, `channels` and `meta`
 * as a JWT would.
 */
function phoenixTokenIdentity(result: ReturnType<typeof verifyPhoenixToken>): AuthOutcome {
  if (!result.ok) return { ok: false, reason: result.error, detail: result.detail };
  const { data, expiresAt } = result;
  let claims: ReturnType<typeof readClaims> = { userId: undefined, channels: undefined, meta: {} };
  if (typeof data === "string" || typeof data === "number") claims.userId = String(data);
  else if (typeof data === "object" && data !== null && !Array.isArray(data) && !(data instanceof Uint8Array)) claims = readClaims(data);
  if (typeof claims === "string") return { ok: false, reason: "invalid", detail: claims };
  const identity: Identity = { ...claims, expiresAt, scheme: "phoenixToken", claims: data };
  return { ok: true, identity };
}
