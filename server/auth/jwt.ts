import { createPublicKey } from "node:crypto";
import { createRemoteJWKSet, errors, importJWK, importSPKI, jwtVerify, type JWK, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose";
import type { AuthOutcome } from "./identity.js";
import { readClaims } from "./identity.js";

/** JWT verification settings (`auth: {jwt: …}`). Exactly one key source: `secret`, `publicKey`, `jwk` or `jwksUrl`. */
export interface JwtAuthConfig {
  /** Shared secret for HS256/HS384/HS512. */
  secret?: string;
  /** A PEM public key (SPKI, `-----BEGIN PUBLIC KEY-----`) for RS*, PS*, ES* or EdDSA. */
  publicKey?: string;
  /** One public key as a JWK. */
  jwk?: JWK;
  /** A JWKS endpoint (an identity provider's `…/.well-known/jwks.json`); keys are picked by `kid` and cached. */
  jwksUrl?: string;
  /**
   * Accepted `alg` values. Default: HS256/384/512 with `secret`, otherwise the asymmetric ones
   * (RS*, PS*, ES*, EdDSA); an HS token is never checked against a public key.
   */
  algorithms?: string[];
  /** Required `aud` (one of them, when a list). */
  audience?: string | string[];
  /** Required `iss` (one of them, when a list). */
  issuer?: string | string[];
  /** Leeway for `exp` and `nbf`, ms (default 5000). */
  clockToleranceMs?: number;
  /** Refuse tokens without `exp` (default true: a socket's session must end). */
  requireExp?: boolean;
  /** How long fetched JWKS keys are kept, ms (default 600,000). */
  jwksCacheMaxAge?: number;
  /** After a fetch (an unknown `kid` triggers one), how long before another may happen, ms (default 30,000). */
  jwksCooldown?: number;
}

const HMAC_ALGORITHMS = ["HS256", "HS384", "HS512"];
const PUBLIC_KEY_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

/** Verifies JWTs with jose and turns their claims into an identity. */
export class JwtVerifier {
  private readonly key: JWTVerifyGetKey;
  private readonly options: JWTVerifyOptions;

  constructor(config: JwtAuthConfig, private readonly now: () => number = Date.now) {
    checkJwtConfig(config);
    this.key = keyOf(config);
    this.options = {
      algorithms: config.algorithms ?? (config.secret !== undefined ? HMAC_ALGORITHMS : PUBLIC_KEY_ALGORITHMS),
      audience: config.audience,
      issuer: config.issuer,
      // jose counts in seconds.
      clockTolerance: (config.clockToleranceMs ?? 5000) / 1000,
      requiredClaims: config.requireExp === false ? [] : ["exp"],
    };
  }

  async verify(token: string | undefined): Promise<AuthOutcome> {
    if (!token) return { ok: false, reason: "missing", detail: "no token" };
    let payload: Record<string, unknown>;
    try {
      const key = this.key;
      const options = { ...this.options, currentDate: new Date(this.now()) };
      payload = (await jwtVerify(token, key, options)).payload;
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { ok: false, reason: "expired", detail: "exp has passed" };
      return { ok: false, reason: "invalid", detail: describe(err) };
    }
    const claims = readClaims(payload);
    if (typeof claims === "string") return { ok: false, reason: "invalid", detail: claims };
    const expiresAt = typeof payload.exp === "number" ? payload.exp * 1000 : null;
    return { ok: true, identity: { ...claims, expiresAt, scheme: "jwt", claims: payload } };
  }
}

export function checkJwtConfig(config: JwtAuthConfig): void {
  const sources = (["secret", "publicKey", "jwk", "jwksUrl"] as const).filter((name) => config[name] !== undefined);
  if (sources.length !== 1) throw new TypeError("auth.jwt needs exactly one of secret, publicKey, jwk or jwksUrl");
  if (config.secret !== undefined && (typeof config.secret !== "string" || config.secret.length < 32)) {
    throw new TypeError("auth.jwt.secret must be a string of at least 32 characters");
  }
  if (config.jwksUrl !== undefined && !/^https?:\/\//.test(config.jwksUrl)) throw new TypeError("auth.jwt.jwksUrl must be an http(s) URL");
  if (config.publicKey !== undefined) {
    try {
      createPublicKey(config.publicKey);
    } catch {
      throw new TypeError("auth.jwt.publicKey must be a PEM public key (-----BEGIN PUBLIC KEY-----)");
    }
  }
  if (config.algorithms !== undefined && (!Array.isArray(config.algorithms) || config.algorithms.length === 0)) {
    throw new TypeError("auth.jwt.algorithms must be a non-empty list");
  }
  // A shared secret and public-key algorithms never mix: that is the classic algorithm confusion.
  const hmac = config.algorithms?.filter((alg) => alg.startsWith("HS")) ?? [];
  if (config.secret === undefined && hmac.length > 0) throw new TypeError("auth.jwt: HS algorithms need a secret");
  if (config.secret !== undefined && config.algorithms && hmac.length !== config.algorithms.length) throw new TypeError("auth.jwt: a secret verifies HS algorithms only");
  // It was in seconds: a value meant as seconds must not be read as milliseconds.
  if ("clockTolerance" in config) throw new TypeError("auth.jwt.clockTolerance (seconds) is now auth.jwt.clockToleranceMs, in milliseconds");
  if (config.clockToleranceMs !== undefined && !(config.clockToleranceMs >= 0)) throw new TypeError("auth.jwt.clockToleranceMs must be a number of milliseconds ≥ 0");
}

/** jose's key argument: a function that picks the key for a token's header. */
function keyOf(config: JwtAuthConfig): JWTVerifyGetKey {
  if (config.secret !== undefined) {
    const secret = new TextEncoder().encode(config.secret);
    return perAlgorithm((alg) => {
      const hash = HMAC_HASH[alg];
      if (!hash) throw new errors.JOSEAlgNotAllowed(`${alg} is not an HMAC algorithm`);
      return crypto.subtle.importKey("raw", secret, { name: "HMAC", hash }, false, ["verify"]);
    });
  }
  if (config.publicKey !== undefined) {
    const pem = config.publicKey;
    return perAlgorithm((alg) => importSPKI(pem, alg));
  }
  if (config.jwk !== undefined) {
    const jwk = config.jwk;
    return perAlgorithm(async (alg) => {
      const key = await importJWK(jwk, alg);
      if (key instanceof Uint8Array) throw new TypeError("auth.jwt.jwk must be a public key (use secret for HS)");
      return key;
    });
  }
  return createRemoteJWKSet(new URL(config.jwksUrl as string), {
    cacheMaxAge: config.jwksCacheMaxAge ?? 600_000,
    cooldownDuration: config.jwksCooldown ?? 30_000,
  });
}

const HMAC_HASH: Readonly<Record<string, string>> = { HS256: "SHA-256", HS384: "SHA-384", HS512: "SHA-512" };

/**
 * The static key imported into WebCrypto once per algorithm: given raw bytes, a PEM or a JWK,
 * jose would import it at every verification, which costs more than the check itself. jose
 * checks `algorithms` before asking for a key, so the map holds at most one key per allowed alg.
 */
function perAlgorithm(load: (alg: string) => Promise<CryptoKey>): JWTVerifyGetKey {
  const keys = new Map<string, Promise<CryptoKey>>();
  return ({ alg }) => {
    let key = keys.get(alg);
    if (!key) {
      keys.set(alg, (key = load(alg)));
      // A key that cannot be imported for this alg refuses its tokens; try again next time.
      key.catch(() => keys.delete(alg));
    }
    return key;
  };
}

/** What went wrong, in words for the log (jose's codes name the check; the token never appears). */
function describe(err: unknown): string {
  if (err instanceof errors.JWKSNoMatchingKey) return "no key with this kid";
  if (err instanceof errors.JWTClaimValidationFailed) return `claim ${err.claim} failed: ${err.reason}`;
  if (err instanceof errors.JOSEError) return err.code;
  return "unverifiable token";
}
