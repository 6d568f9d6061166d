import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JwtVerifier } from "../../server/auth/jwt.js";
import { HS_SECRET, jwksServer, keyPair, signHs } from "./support.js";

const now = () => Math.floor(Date.now() / 1000);

describe("JWT verification", () => {
  it("accepts an HS256 token and reads sub, channels and meta", async () => {
    const verifier = new JwtVerifier({ secret: HS_SECRET });
    const token = await signHs({ sub: "u1", channels: ["room:*", "dm:u1"], meta: { plan: "pro" } }, { expiresIn: "1h" });
    const outcome = await verifier.verify(token);
    expect(outcome).toMatchObject({ ok: true, identity: { userId: "u1", channels: ["room:*", "dm:u1"], meta: { plan: "pro" }, scheme: "jwt" } });
    if (outcome.ok) expect(outcome.identity.expiresAt).toBe((outcome.identity.claims as { exp: number }).exp * 1000);
  });

  it("refuses expired, not-yet-valid, unsigned-for-us and tampered tokens, within the clock tolerance", async () => {
    const verifier = new JwtVerifier({ secret: HS_SECRET, clockToleranceMs: 5000 });
    expect(await verifier.verify(await signHs({ sub: "u1", exp: now() - 60 }))).toMatchObject({ ok: false, reason: "expired" });
    expect(await verifier.verify(await signHs({ sub: "u1", exp: now() - 2 }))).toMatchObject({ ok: true });
    expect(await verifier.verify(await signHs({ sub: "u1", exp: now() + 60, nbf: now() + 60 }))).toMatchObject({ ok: false, reason: "invalid", detail: expect.stringContaining("nbf") });
    expect(await verifier.verify(await signHs({ sub: "u1", exp: now() + 60 }, { secret: "another-secret-that-is-long-enough-too" }))).toMatchObject({ ok: false, reason: "invalid" });
    const good = await signHs({ sub: "u1", exp: now() + 60 });
    const [head, , mac] = good.split(".");
    const forged = Buffer.from(JSON.stringify({ sub: "admin", exp: now() + 60 })).toString("base64url");
    expect(await verifier.verify(`${head}.${forged}.${mac}`)).toMatchObject({ ok: false, reason: "invalid" });
    expect(await verifier.verify(await signHs({ sub: "u1" }))).toMatchObject({ ok: false, reason: "invalid", detail: expect.stringContaining("exp") });
    expect(await verifier.verify(undefined)).toMatchObject({ ok: false, reason: "missing" });
    expect(await verifier.verify("not.a.jwt")).toMatchObject({ ok: false, reason: "invalid" });
  });

  it("checks aud and iss", async () => {
    const verifier = new JwtVerifier({ secret: HS_SECRET, audience: "cinder", issuer: ["https://id.example"] });
    const token = (aud: string, iss: string) => signHs({ sub: "u1", aud, iss }, { expiresIn: "1h" });
    expect(await verifier.verify(await token("cinder", "https://id.example"))).toMatchObject({ ok: true });
    expect(await verifier.verify(await token("other-app", "https://id.example"))).toMatchObject({ ok: false, reason: "invalid", detail: expect.stringContaining("aud") });
    expect(await verifier.verify(await token("cinder", "https://evil.example"))).toMatchObject({ ok: false, reason: "invalid", detail: expect.stringContaining("iss") });
  });

  it("refuses malformed Cinder claims", async () => {
    const verifier = new JwtVerifier({ secret: HS_SECRET });
    expect(await verifier.verify(await signHs({ sub: "u1", channels: "room:*" }, { expiresIn: "1h" }))).toMatchObject({ ok: false, detail: expect.stringContaining("channels") });
    expect(await verifier.verify(await signHs({ sub: "u1", channels: ["ro*om"] }, { expiresIn: "1h" }))).toMatchObject({ ok: false, detail: expect.stringContaining("channels") });
    expect(await verifier.verify(await signHs({ sub: "u1", meta: [1] }, { expiresIn: "1h" }))).toMatchObject({ ok: false, detail: expect.stringContaining("meta") });
  });

  it("verifies RS256 and ES256 with a PEM or a JWK, and never an HS token against a public key", async () => {
    for (const alg of ["RS256", "ES256"] as const) {
      const pair = await keyPair(alg, `${alg}-1`);
      const other = await keyPair(alg, `${alg}-2`);
      const byPem = new JwtVerifier({ publicKey: pair.pem });
      const byJwk = new JwtVerifier({ jwk: pair.jwk });
      expect(await byPem.verify(await pair.sign({ sub: "u1" }))).toMatchObject({ ok: true, identity: { userId: "u1" } });
      expect(await byJwk.verify(await pair.sign({ sub: "u1" }))).toMatchObject({ ok: true });
      expect(await byPem.verify(await other.sign({ sub: "u1" }))).toMatchObject({ ok: false, reason: "invalid" });
      // Algorithm confusion: the public key's text used as an HMAC secret.
      expect(await byPem.verify(await signHs({ sub: "u1" }, { secret: pair.pem, expiresIn: "1h" }))).toMatchObject({ ok: false, reason: "invalid" });
    }
  });

  it("refuses impossible settings", () => {
    expect(() => new JwtVerifier({})).toThrow(/exactly one/);
    expect(() => new JwtVerifier({ secret: "short" })).toThrow(/32/);
    expect(() => new JwtVerifier({ secret: HS_SECRET, algorithms: ["RS256"] })).toThrow(/HS/);
    expect(() => new JwtVerifier({ jwksUrl: "file:///etc/passwd" })).toThrow(/http/);
    expect(() => new JwtVerifier({ publicKey: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----" })).toThrow(/PEM/);
  });
});

describe("JWT verification with a JWKS endpoint", () => {
  let rsa: Awaited<ReturnType<typeof keyPair>>;
  let ec: Awaited<ReturnType<typeof keyPair>>;
  let stranger: Awaited<ReturnType<typeof keyPair>>;
  let jwks: Awaited<ReturnType<typeof jwksServer>>;
  beforeAll(async () => {
    [rsa, ec, stranger] = await Promise.all([keyPair("RS256", "rsa-1"), keyPair("ES256", "ec-1"), keyPair("RS256", "gone-1")]);
    jwks = await jwksServer(() => [rsa.jwk, ec.jwk]);
  });
  afterAll(() => jwks.close());

  it("picks the key by kid, fetches the set once and caches it", async () => {
    const verifier = new JwtVerifier({ jwksUrl: jwks.url, audience: "cinder" });
    const before = jwks.fetches();
    expect(await verifier.verify(await rsa.sign({ sub: "u1", aud: "cinder" }))).toMatchObject({ ok: true, identity: { userId: "u1" } });
    expect(await verifier.verify(await ec.sign({ sub: "u2", aud: "cinder" }))).toMatchObject({ ok: true, identity: { userId: "u2" } });
    expect(await verifier.verify(await rsa.sign({ sub: "u3", aud: "cinder" }))).toMatchObject({ ok: true });
    expect(jwks.fetches() - before).toBe(1);
    expect(await verifier.verify(await rsa.sign({ sub: "u1", aud: "elsewhere" }))).toMatchObject({ ok: false, reason: "invalid", detail: expect.stringContaining("aud") });
  });

  it("refuses a token whose kid the set does not hold, and one signed by another key under a known kid", async () => {
    const verifier = new JwtVerifier({ jwksUrl: jwks.url });
    expect(await verifier.verify(await stranger.sign({ sub: "u1" }))).toMatchObject({ ok: false, reason: "invalid", detail: "no key with this kid" });
    expect(await verifier.verify(await stranger.sign({ sub: "u1" }, { kid: "rsa-1" }))).toMatchObject({ ok: false, reason: "invalid" });
  });
});
