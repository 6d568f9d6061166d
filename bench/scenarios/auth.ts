/**
 * What token verification costs each connect, in µs, on the path a connect takes (the
 * authenticator built from an `auth` setting, identity included): Phoenix.Token with its key
 * already derived (the steady state; the first connect of a salt also pays PBKDF2, shown
 * apart), and JWT HS256, RS256 (2048-bit) and ES256 with a static key. One thread, tokens
 * verified one after another (the latency of one connect), and 64 at a time (connects arriving
 * together: jose verifies through WebCrypto, off the event loop, so they overlap); medians of `--runs`.
 *   npm run bench -- auth [--count 20000] [--runs 5]
 */
import { SignJWT, exportSPKI, generateKeyPair } from "jose";
import { createAuthenticator, type AuthConfig, type Authenticator } from "../../server/auth/auth-config.js";
import { signPhoenixToken, verifyPhoenixToken } from "../../server/auth/phoenix-token.js";
import { parseFlags } from "../lib/flags.js";
import { median } from "../lib/stats.js";

const SECRET_KEY_BASE = "bench-secret-key-base-".padEnd(64, "x");
const HS_SECRET = "bench-jwt-secret-".padEnd(48, "y");
const CLAIMS = { sub: "user-42", channels: ["room:*", "dm:user-42"], meta: { plan: "pro" } };

interface Case {
  name: string;
  auth: AuthConfig;
  token: string;
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const count = f.number("count", 20_000);
  const runs = f.number("runs", 5);
  const cases = await makeCases();
  console.log(`Token verification per connect (${count} tokens back to back, median of ${runs} runs; Node ${process.version})\n`);
  console.log(`| token | µs per connect, one at a time | µs per connect, ${IN_FLIGHT} in flight | connects/s, ${IN_FLIGHT} in flight |`);
  console.log("|---|---:|---:|---:|");
  for (const c of cases) {
    const authenticator = createAuthenticator(c.auth, SECRET_KEY_BASE);
    await verifyOnce(authenticator, c.token); // warm: key import, derived key, JIT
    const sequential: number[] = [];
    const overlapped: number[] = [];
    for (let r = 0; r < runs; r++) {
      sequential.push(await timeVerify(authenticator, c.token, count, 1));
      overlapped.push(await timeVerify(authenticator, c.token, count, IN_FLIGHT));
    }
    const us = median(overlapped);
    console.log(`| ${c.name} | ${median(sequential).toFixed(1)} | ${us.toFixed(1)} | ${Math.round(1e6 / us).toLocaleString("en-US")} |`);
  }
  const salts: number[] = [];
  for (let r = 0; r < runs; r++) {
    const started = process.hrtime.bigint();
    // A well-formed token, so that the key is derived (a malformed one is refused before that).
    verifyPhoenixToken(SECRET_KEY_BASE, `fresh salt ${r}`, cases[0].token);
    salts.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  console.log(`| Phoenix.Token, first connect of a salt (PBKDF2, 1,000 iterations) | ${median(salts).toFixed(1)} | — | — |`);
}

async function makeCases(): Promise<Case[]> {
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const ec = await generateKeyPair("ES256", { extractable: true });
  const jwt = (alg: string) => new SignJWT(CLAIMS).setProtectedHeader({ alg }).setIssuedAt().setExpirationTime("1h");
  return [
    { name: "Phoenix.Token (integer user id)", auth: { phoenixToken: { salt: "user socket" } }, token: signPhoenixToken(SECRET_KEY_BASE, "user socket", 42) },
    { name: "Phoenix.Token (map with sub, channels, meta)", auth: { phoenixToken: { salt: "user socket" } }, token: signPhoenixToken(SECRET_KEY_BASE, "user socket", CLAIMS) },
    { name: "JWT HS256", auth: { jwt: { secret: HS_SECRET } }, token: await jwt("HS256").sign(new TextEncoder().encode(HS_SECRET)) },
    { name: "JWT RS256 (2048-bit)", auth: { jwt: { publicKey: await exportSPKI(rsa.publicKey) } }, token: await jwt("RS256").sign(rsa.privateKey) },
    { name: "JWT ES256", auth: { jwt: { publicKey: await exportSPKI(ec.publicKey) } }, token: await jwt("ES256").sign(ec.privateKey) },
  ];
}

async function verifyOnce(authenticator: Authenticator, token: string): Promise<void> {
  const outcome = await authenticator.verify(token);
  if (!outcome.ok) throw new Error(`bench token refused: ${outcome.reason} (${outcome.detail})`);
}

const IN_FLIGHT = 64;

/** µs per verification over `count` verifications, `inFlight` at a time. */
async function timeVerify(authenticator: Authenticator, token: string, count: number, inFlight: number): Promise<number> {
  let next = 0;
  const lane = async () => {
    while (next++ < count) await verifyOnce(authenticator, token);
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inFlight }, lane));
  return Number(process.hrtime.bigint() - started) / 1000 / count;
}
