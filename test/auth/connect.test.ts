import { Socket } from "phoenix";
import { describe, expect, it, onTestFinished as afterTest } from "vitest";
import WebSocket from "ws";
import { settingsFromCli } from "../../server/cli-options.js";
import { createServer, ok, signPhoenixToken, type CinderServer, type ConnectInfo, type CreateServerOptions } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { RawClient } from "../support/raw-client.js";
import { waitFor } from "../support/wait.js";
import { HS_SECRET, SALT, SECRET_KEY_BASE, jwksServer, keyPair, openWithToken, signHs } from "./support.js";

const opened = perTest();
/** The test's server: the last one started. */
let server: CinderServer;
const open = (token: string) => openWithToken(opened, server, token);

/** A channel that answers its join with what it sees of the socket. */
const whoami = {
  join: (_topic: string, _params: unknown, socket: { userId: string | undefined; assigns: Record<string, unknown> }) => ok({ userId: socket.userId ?? null, assigns: socket.assigns }),
};

async function start(options: CreateServerOptions): Promise<CinderServer> {
  server = await opened.server({ secretKeyBase: SECRET_KEY_BASE, channels: { "room:*": whoami, "admin:*": whoami }, ...options });
  return server;
}

function raw(opened: RawClient | number): RawClient {
  if (typeof opened === "number") throw new Error(`refused with HTTP ${opened}`);
  return opened;
}

describe("built-in Phoenix.Token auth", () => {
  it("accepts a token from phoenix.js's authToken and gives channels the user", async () => {
    await start({ auth: { phoenixToken: { salt: SALT } } });
    const socket = new Socket(`ws://127.0.0.1:${server.port}/socket`, {
      transport: WebSocket as unknown as typeof globalThis.WebSocket,
      authToken: signPhoenixToken(SECRET_KEY_BASE, SALT, 42),
    });
    socket.connect();
    let answer: unknown;
    socket.channel("room:lobby", {}).join().receive("ok", (response: unknown) => (answer = response));
    try {
      expect(await waitFor(() => answer, "the join")).toEqual({ userId: "42", assigns: {} });
    } finally {
      socket.disconnect();
    }
  });

  it("accepts a token in the token param, and puts a map token's meta in the assigns", async () => {
    await start({ auth: { phoenixToken: { salt: SALT } } });
    const token = signPhoenixToken(SECRET_KEY_BASE, SALT, { sub: "ada", meta: { plan: "pro" } });
    const client = await opened.raw(server, { query: `vsn=2.0.0&token=${encodeURIComponent(token)}` });
    expect((await client.join("room:lobby"))[4]).toEqual({ status: "ok", response: { userId: "ada", assigns: { plan: "pro" } } });
  });

  it("refuses a missing, expired, future, wrongly salted or tampered token with HTTP 403", async () => {
    await start({ auth: { phoenixToken: { salt: SALT, maxAgeMs: 60_000 } } });
    const now = Date.now();
    expect(await open("")).toBe(403);
    expect(await open(signPhoenixToken(SECRET_KEY_BASE, SALT, 1, { signedAt: now - 61_000 }))).toBe(403);
    expect(await open(signPhoenixToken(SECRET_KEY_BASE, SALT, 1, { signedAt: now + 3_600_000 }))).toBe(403);
    expect(await open(signPhoenixToken(SECRET_KEY_BASE, "other salt", 1))).toBe(403);
    expect(await open(signPhoenixToken(`${SECRET_KEY_BASE}x`, SALT, 1))).toBe(403);
    expect(await open(`${signPhoenixToken(SECRET_KEY_BASE, SALT, 1)}x`)).toBe(403);
    const rejected = (reason?: string) => metricOf(server, "cinder_connects_rejected_total", reason === undefined ? {} : { reason });
    expect([await rejected("token_missing"), await rejected("token_expired"), await rejected("token_invalid")]).toEqual([1, 1, 4]);
    expect(await rejected()).toBe(6); // and for no other reason
    expect(raw(await open(signPhoenixToken(SECRET_KEY_BASE, SALT, 1)))).toBeInstanceOf(RawClient);
  });

  it("runs the connect hook after auth, with the identity; the hook's assigns go on top of the token's meta", async () => {
    const seen: ConnectInfo[] = [];
    await start({
      auth: { phoenixToken: { salt: SALT } },
      connect: (_params, info) => {
        seen.push(info);
        return info.identity?.userId === "banned" ? false : { assigns: { plan: "free", role: "member" } };
      },
    });
    expect(await open(signPhoenixToken(SECRET_KEY_BASE, SALT, "banned"))).toBe(403);
    const client = raw(await open(signPhoenixToken(SECRET_KEY_BASE, SALT, { sub: 7, meta: { plan: "pro", team: "a" } })));
    expect((await client.join("room:1"))[4]).toEqual({ status: "ok", response: { userId: "7", assigns: { plan: "free", role: "member", team: "a" } } });
    expect(seen.map((info) => info.identity?.userId)).toEqual(["banned", "7"]);
    expect(seen[1].identity).toMatchObject({ scheme: "phoenixToken", claims: { sub: 7, meta: { plan: "pro", team: "a" } } });
    // An invalid token never reaches the hook.
    expect(await open("SFMyNTY.e30.e30")).toBe(403);
    expect(seen).toHaveLength(2);
  });
});

describe("built-in JWT auth", () => {
  it("refuses a token for another audience, and a join outside the token's channels before the channel's join runs", async () => {
    let joins = 0;
    server = await opened.server({
      auth: { jwt: { secret: HS_SECRET, audience: "cinder" } },
      channels: { "room:*": { join: () => (joins++, ok()) }, "admin:*": { join: () => (joins++, ok()) } },
    });
    expect(await open(await signHs({ sub: "u1", aud: "elsewhere" }, { expiresIn: "1h" }))).toBe(403);
    const client = raw(await open(await signHs({ sub: "u1", aud: "cinder", channels: ["room:*", "admin:u1"] }, { expiresIn: "1h" })));
    expect((await client.join("room:lobby"))[4]).toEqual({ status: "ok", response: {} });
    expect((await client.join("admin:u1"))[4]).toEqual({ status: "ok", response: {} });
    expect((await client.join("admin:all"))[4]).toEqual({ status: "error", response: { reason: "topic not allowed by token" } });
    expect(joins).toBe(2);
    expect(await metricOf(server, "cinder_joins_refused_by_token_total")).toBe(1);
  });

  it("verifies against a JWKS endpoint, refusing a kid the set does not hold", async () => {
    const [known, unknown] = await Promise.all([keyPair("ES256", "k1"), keyPair("ES256", "k9")]);
    const jwks = await jwksServer(() => [known.jwk]);
    afterTest(() => jwks.close());
    server = await opened.server({ auth: { jwt: { jwksUrl: jwks.url } }, channels: { "room:*": whoami } });
    expect(await open(await unknown.sign({ sub: "u1" }))).toBe(403);
    const client = raw(await open(await known.sign({ sub: "u1" })));
    expect((await client.join("room:1"))[4]).toEqual({ status: "ok", response: { userId: "u1", assigns: {} } });
  });

  it("checks its settings at start, and reads them from AUTH / --auth as JSON", () => {
    expect(() => createServer({ auth: { jwt: { secret: "short" } } })).toThrow(/auth\.jwt\.secret/);
    expect(() => createServer({ auth: { phoenixToken: { salt: SALT } } })).toThrow(/secretKeyBase/);
    expect(() => createServer({ auth: {} })).toThrow(/exactly one/);
    const { settings } = settingsFromCli(["--auth", '{"phoenixToken":{"salt":"user socket","maxAgeMs":600000}}'], { AUTH: '{"jwt":{}}' });
    expect(settings.auth).toEqual({ phoenixToken: { salt: "user socket", maxAgeMs: 600_000 } });
    expect(() => settingsFromCli([], { AUTH: "{salt" })).toThrow(/auth must be JSON/);
  });

  it("refuses the settings that were in seconds, naming their millisecond names", () => {
    const old = (auth: object) => () => createServer({ secretKeyBase: SECRET_KEY_BASE, auth: auth as never });
    expect(old({ phoenixToken: { salt: SALT, maxAge: 600 } })).toThrow("auth.phoenixToken.maxAge (seconds) is now auth.phoenixToken.maxAgeMs, in milliseconds");
    expect(old({ jwt: { secret: "s".repeat(32), clockTolerance: 5 } })).toThrow("auth.jwt.clockTolerance (seconds) is now auth.jwt.clockToleranceMs, in milliseconds");
  });
});
