import { createHmac, pbkdf2Sync, timingSafeEqual } from "node:crypto";
import { encodeErlangTerm, type EncodableTerm } from "./erlang-term-encode.js";
import { decodeErlangTerm, erlangToPlain, ErlangMap, ErlangAtom, ErlangTermError, ErlangTuple, type ErlangTerm, type PlainValue } from "./erlang-term.js";

/**
 * Phoenix.Token (Plug.Crypto.sign/verify with MessageVerifier), byte for byte: a backend that
 * calls `Phoenix.Token.sign(MyAppWeb.Endpoint, "user socket", user_id)` mints tokens this
 * verifies, and tokens signed here verify in Elixir.
 *
 *   key   = PBKDF2-HMAC-SHA256(secret_key_base, salt, 1000 iterations, 32 bytes)
 *   token = "SFMyNTY" . base64url(term_to_binary({data, signed_at_ms, max_age_s})) . base64url(HMAC)
 *
 * where the HMAC (SHA-256 for "SFMyNTY", the base64url of "HS256"; also SHA-384 "SFMzODQ" and
 * SHA-512 "SFM1MTI") covers the first two parts as they are written. Inside the token the max
 * age is in seconds, as Plug writes it; every time and duration of this API is in milliseconds.
 */

export type PhoenixTokenDigest = "sha256" | "sha384" | "sha512";

/** Why a token was refused, with Phoenix.Token's names: `missing`, `invalid`, `expired`. */
export type PhoenixTokenError = "missing" | "invalid" | "expired";

export type PhoenixTokenResult =
  | {
      ok: true;
      /** The signed data as plain JavaScript (atoms as names, tuples as arrays, maps as objects). */
      data: PlainValue;
      /** The same data as decoded, when the difference between an atom and a string matters. */
      term: ErlangTerm;
      /** When it was signed, ms since the epoch. */
      signedAt: number;
      /** When it stops verifying under the max age used, ms since the epoch; null: never. */
      expiresAt: number | null;
    }
  | { ok: false; error: PhoenixTokenError; /** For logs: what exactly was wrong. */ detail: string };

interface KeyOptions {
  /** PBKDF2 iterations (Plug's `:key_iterations`, default 1000). */
  keyIterations?: number;
  /** Derived key bytes (`:key_length`, default 32). */
  keyLength?: number;
  /** PBKDF2's HMAC digest (`:key_digest`, default sha256). */
  keyDigest?: PhoenixTokenDigest;
}

export interface VerifyPhoenixTokenOptions extends KeyOptions {
  /**
   * How long a token stays valid after signing, ms, overriding the max age signed into it
   * (Plug's default: the signed one, a day unless the signer chose). `Infinity` never expires;
   * 0 or less always does.
   */
  maxAgeMs?: number;
  /** The clock, ms since the epoch (tests). */
  now?: () => number;
}

export interface SignPhoenixTokenOptions extends KeyOptions {
  /** The signing time, ms since the epoch (as `Date.now()` and verifyPhoenixToken's `signedAt`); default now. */
  signedAt?: number;
  /** The max age written into the token, ms (default a day); the token carries it in seconds, as Plug's. */
  maxAgeMs?: number;
  /** The MAC's digest (default sha256, the only one Phoenix.Token signs with). */
  digest?: PhoenixTokenDigest;
  now?: () => number;
}

const PROTECTED: Record<PhoenixTokenDigest, string> = { sha256: "SFMyNTY", sha384: "SFMzODQ", sha512: "SFM1MTI" };
const DIGEST_OF: Record<string, PhoenixTokenDigest> = { SFMyNTY: "sha256", SFMzODQ: "sha384", SFM1MTI: "sha512" };
const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Tokens are a few hundred bytes; longer input is refused before any work. */
const MAX_TOKEN_LENGTH = 64 * 1024;
/** Plug's default max age: a day, in the seconds a token carries. */
const DEFAULT_MAX_AGE_SECONDS = 86_400;
/** Before 1973-03-03 as ms; as seconds, the year 5138: a signedAt below it was meant as seconds. */
const SECONDS_LOOK = 1e11;

export function signPhoenixToken(secretKeyBase: string, salt: string, data: EncodableTerm, options: SignPhoenixTokenOptions = {}): string {
  refuseSecondsNames(options);
  const { signedAt, maxAgeMs } = options;
  if (signedAt !== undefined && !(Number.isFinite(signedAt) && signedAt >= SECONDS_LOOK)) {
    throw new TypeError(`signedAt is ms since the epoch (as Date.now()); ${signedAt} looks like seconds: multiply it by 1000`);
  }
  if (maxAgeMs !== undefined && !(maxAgeMs > 0 && Number.isFinite(maxAgeMs))) throw new TypeError("maxAgeMs must be a positive number of milliseconds");
  const signedAtMs = signedAt !== undefined ? Math.trunc(signedAt) : (options.now ?? Date.now)();
  const maxAgeSeconds = maxAgeMs !== undefined ? maxAgeMs / 1000 : DEFAULT_MAX_AGE_SECONDS;
  const payload = encodeErlangTerm(new ErlangTuple([data as ErlangTerm, signedAtMs, maxAgeSeconds])).toString("base64url");
  const digest = options.digest ?? "sha256";
  const plainText = `${PROTECTED[digest]}.${payload}`;
  const mac = createHmac(digest, secretKey(secretKeyBase, salt, options)).update(plainText).digest("base64url");
  return `${plainText}.${mac}`;
}

export function verifyPhoenixToken(secretKeyBase: string, salt: string, token: string | null | undefined, options: VerifyPhoenixTokenOptions = {}): PhoenixTokenResult {
  refuseSecondsNames(options);
  if (token === null || token === undefined || token === "") return refuse("missing", "no token");
  if (token.length > MAX_TOKEN_LENGTH) return refuse("invalid", "token too long");
  const parts = token.split(".");
  if (parts.length !== 3) return refuse("invalid", "not three dot-separated parts");
  const [protectedPart, payload, signature] = parts;
  const digest = DIGEST_OF[protectedPart];
  if (!digest) return refuse("invalid", "unknown signature header");
  if (!isBase64Url(payload) || !isBase64Url(signature)) return refuse("invalid", "not base64url");
  const expected = createHmac(digest, secretKey(secretKeyBase, salt, options)).update(`${protectedPart}.${payload}`).digest();
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return refuse("invalid", "bad signature");

  // Signed by someone holding the key: from here on the content is trusted, but still only plain data is decoded.
  let decoded: ErlangTerm;
  try {
    decoded = decodeErlangTerm(Buffer.from(payload, "base64url"));
  } catch (err) {
    return refuse("invalid", err instanceof ErlangTermError ? err.message : "undecodable payload");
  }
  const content = unwrap(decoded);
  if (!content) return refuse("invalid", "payload is not {data, signed_at, max_age}");
  const maxAgeMs = options.maxAgeMs ?? content.maxAgeSeconds * 1000;
  const now = (options.now ?? Date.now)();
  if (maxAgeMs === Infinity) return { ok: true, data: erlangToPlain(content.data), term: content.data, signedAt: content.signed, expiresAt: null };
  if (!(maxAgeMs > 0)) return refuse("expired", "max age is not positive");
  if (content.signed > now) return refuse("invalid", "signed in the future");
  const expiresAt = content.signed + Math.trunc(maxAgeMs);
  if (expiresAt < now) return refuse("expired", "older than its max age");
  return { ok: true, data: erlangToPlain(content.data), term: content.data, signedAt: content.signed, expiresAt };
}

/** `maxAge` was in seconds: a value meant as seconds must not be read as milliseconds. */
function refuseSecondsNames(options: object): void {
  if ("maxAge" in options) throw new TypeError("maxAge (seconds) is now maxAgeMs, in milliseconds");
}

function refuse(error: PhoenixTokenError, detail: string): PhoenixTokenResult {
  return { ok: false, error, detail };
}

function isBase64Url(text: string): boolean {
  return BASE64URL.test(text) && text.length % 4 !== 1;
}

/**
 * The payload shapes Plug.Crypto still reads: `{data, signed, max_age}` (current),
 * `{data, signed}` (Plug.Crypto 1.1) and `%{data: data, signed: signed}` (early Phoenix); the
 * last two get the default max age of a day.
 */
function unwrap(term: ErlangTerm): { data: ErlangTerm; signed: number; maxAgeSeconds: number } | null {
  let data: ErlangTerm;
  let signed: ErlangTerm;
  let maxAge: ErlangTerm = DEFAULT_MAX_AGE_SECONDS;
  if (term instanceof ErlangTuple && (term.items.length === 3 || term.items.length === 2)) {
    [data, signed] = term.items;
    if (term.items.length === 3) maxAge = term.items[2];
  } else if (term instanceof ErlangMap && term.entries.length === 2) {
    const field = (name: string) => term.entries.find(([key]) => key instanceof ErlangAtom && key.name === name)?.[1];
    const [d, s] = [field("data"), field("signed")];
    if (d === undefined || s === undefined) return null;
    [data, signed] = [d, s];
  } else {
    return null;
  }
  if (typeof signed !== "number" || !Number.isInteger(signed)) return null;
  // `:infinity` is an atom; anything else must be a number of seconds.
  if (maxAge instanceof ErlangAtom && maxAge.name === "infinity") return { data, signed, maxAgeSeconds: Infinity };
  if (typeof maxAge !== "number") return null;
  return { data, signed, maxAgeSeconds: maxAge };
}

/**
 * Derived keys by (secret, salt, parameters), as Plug keeps them in an ETS table: PBKDF2 costs
 * far more than the HMAC, and a server uses a handful of salts. Bounded all the same, oldest out.
 */
const keys = new Map<string, Buffer>();
const MAX_CACHED_KEYS = 64;

function secretKey(secretKeyBase: string, salt: string, options: KeyOptions): Buffer {
  const iterations = options.keyIterations ?? 1000;
  const length = options.keyLength ?? 32;
  const digest = options.keyDigest ?? "sha256";
  const id = JSON.stringify([secretKeyBase, salt, iterations, length, digest]);
  let key = keys.get(id);
  if (!key) {
    key = pbkdf2Sync(secretKeyBase, salt, iterations, length, digest);
    if (keys.size >= MAX_CACHED_KEYS) keys.delete(keys.keys().next().value as string);
    keys.set(id, key);
  }
  return key;
}
