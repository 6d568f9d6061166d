import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload } from "jose";
import type { Opened } from "../support/opened.js";
import { HttpRefusal, type RawClient } from "../support/raw-client.js";

/** The Phoenix endpoint secret and salt the tests sign with (the same as the Erlang vectors'). */
export const SECRET_KEY_BASE = "a-secret-key-base-of-at-least-64-bytes-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
export const SALT = "user socket";

/** The subprotocol phoenix.js sends its `authToken` in. */
export function tokenProtocols(token: string): string[] {
  return ["phoenix", `base64url.bearer.phx.${Buffer.from(token).toString("base64url")}`];
}

/**
 * A raw socket of a server or node (or a URL) with `token` as phoenix.js's authToken, kept by
 * `opened`; resolves with the client, or with the HTTP status of the refusal.
 */
export async function openWithToken(opened: Opened, target: { port: number } | string, token: string): Promise<RawClient | number> {
  try {
    return await opened.raw(target, { protocols: tokenProtocols(token) });
  } catch (err) {
    if (err instanceof HttpRefusal) return err.status;
    throw err;
  }
}

/** `openWithToken`, failing if the connect is refused. */
export async function clientWithToken(opened: Opened, target: { port: number } | string, token: string): Promise<RawClient> {
  const client = await openWithToken(opened, target, token);
  if (typeof client === "number") throw new Error(`refused with HTTP ${client}`);
  return client;
}

export const HS_SECRET = "a-shared-jwt-secret-of-at-least-32-characters";

export function signHs(claims: JWTPayload, options: { secret?: string; alg?: string; expiresIn?: string | number } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? "HS256" }).setIssuedAt();
  if (options.expiresIn !== undefined) jwt.setExpirationTime(options.expiresIn);
  return jwt.sign(new TextEncoder().encode(options.secret ?? HS_SECRET));
}

/** An asymmetric key pair with its public half as PEM and as a JWK (with `kid`). */
export async function keyPair(alg: "RS256" | "ES256", kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return {
    pem: await exportSPKI(publicKey),
    jwk,
    sign: (claims: JWTPayload, header: { kid?: string } = { kid }) => {
      const jwt = new SignJWT(claims).setProtectedHeader({ alg, ...header }).setIssuedAt();
      if (claims.exp === undefined) jwt.setExpirationTime("1h");
      return jwt.sign(privateKey);
    },
  };
}

/** A JWKS endpoint on loopback serving `keys`, counting its fetches. */
export async function jwksServer(keys: () => JWK[]): Promise<{ url: string; fetches: () => number; close: () => Promise<void> }> {
  let fetches = 0;
  const server: Server = createHttpServer((_req, res) => {
    fetches++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: keys() }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    fetches: () => fetches,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
