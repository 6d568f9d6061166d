import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ok, signPhoenixToken, type CinderServer, type CreateServerOptions } from "../../server/index.js";
import { NodeProcess, freePort } from "../support/node-process.js";
import { RawClient } from "../support/raw-client.js";
import { RedisServer } from "../support/redis-server.js";
import { httpUrl, startServer } from "../support/server.js";
import { waitFor } from "../support/wait.js";
import { SALT, SECRET_KEY_BASE, openWithToken, serverPerTest } from "./support.js";

const PROBE_APP = fileURLToPath(new URL("../support/apps/probe-app.mjs", import.meta.url));
const AUTH_ENV = { SECRET_KEY_BASE, AUTH: JSON.stringify({ phoenixToken: { salt: SALT } }) };
const token = (user: string) => signPhoenixToken(SECRET_KEY_BASE, SALT, user);

const clients: RawClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

async function open(port: number, user: string): Promise<RawClient> {
  const opened = await openWithToken(`ws://127.0.0.1:${port}/socket/websocket?vsn=2.0.0`, token(user));
  if (typeof opened === "number") throw new Error(`refused with HTTP ${opened}`);
  clients.push(opened);
  return opened;
}

function postDisconnect(port: number, body: unknown, key: string | null = SECRET_KEY_BASE): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/api/disconnect`, {
    method: "POST",
    headers: key === null ? {} : { authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
}

/** Still served: a heartbeat round trip. */
async function alive(client: RawClient, ref: string): Promise<boolean> {
  client.send([null, ref, "phoenix", "heartbeat", {}]);
  return (await client.reply(ref))[4] !== undefined && client.closeEvent === null;
}

/** Sockets of `user` until each worker thread of the node holds one; by thread. */
async function onEveryThread(port: number, user: string, threads: number): Promise<RawClient[]> {
  const byThread = new Map<number, RawClient>();
  for (let i = 0; i < 60 && byThread.size < threads; i++) {
    const client = await open(port, user);
    const thread = ((await client.join("probe:who"))[4] as { response: { thread: number } }).response.thread;
    if (!byThread.has(thread)) byThread.set(thread, client);
  }
  expect(byThread.size).toBe(threads);
  return [...byThread.values()];
}

describe("force-disconnect on one server", () => {
  const servers = serverPerTest();
  const start = async (options: CreateServerOptions = {}): Promise<CinderServer> =>
    (servers.current = await startServer({ secretKeyBase: SECRET_KEY_BASE, auth: { phoenixToken: { salt: SALT } }, ...options }));
  const open = (_port: number, user: string) => servers.client(token(user));

  it("server.disconnect(id) closes every socket with that id (the token's sub, or the hook's id) and no other", async () => {
    const server = await start({
      connect: (_params, info) => (info.identity?.userId === "guest" ? { id: "guests" } : true),
      channels: { "room:*": { join: () => ok() } },
    });
    const port = server.port;
    const [a1, a2, bob, guest] = [await open(port, "ada"), await open(port, "ada"), await open(port, "bob"), await open(port, "guest")];
    await a1.join("room:1");
    expect(server.disconnect("ada")).toBe(2);
    expect(await a1.closed()).toEqual({ code: 4403, reason: "disconnected by the server" });
    expect(await a2.closed()).toEqual({ code: 4403, reason: "disconnected by the server" });
    expect(server.disconnect("guest")).toBe(0);
    expect(server.disconnect("guests")).toBe(1);
    expect((await guest.closed()).code).toBe(4403);
    expect(await alive(bob, "hb")).toBe(true);
    expect(() => server.disconnect("x".repeat(257))).toThrow(/1 to 256/);
  });

  it("POST /api/disconnect takes the bearer key and an id", async () => {
    const server = await start();
    const port = server.port;
    const ada = await open(port, "ada");
    expect((await postDisconnect(port, { id: "ada" }, null)).status).toBe(401);
    expect((await postDisconnect(port, { id: "ada" }, "wrong")).status).toBe(401);
    expect((await postDisconnect(port, { id: 42 })).status).toBe(400);
    expect((await postDisconnect(port, { id: "" })).status).toBe(400);
    expect(ada.closeEvent).toBeNull();
    const accepted = await postDisconnect(port, { id: "ada" });
    expect([accepted.status, await accepted.json()]).toEqual([202, { ok: true }]);
    expect((await ada.closed()).code).toBe(4403);
    const metrics = await (await fetch(httpUrl(server, "/metrics"))).text();
    expect(metrics).toMatch(/cinder_forced_disconnects_total 1/);
  });

  it("a broadcast to the reserved topic closes nothing", async () => {
    const server = await start();
    const ada = await open(server.port, "ada");
    server.broadcast("cinder:disconnect", "disconnect", { id: "ada" });
    const sent = await fetch(httpUrl(server, "/api/broadcast"), {
      method: "POST",
      headers: { authorization: `Bearer ${SECRET_KEY_BASE}` },
      body: JSON.stringify({ topic: "cinder:disconnect", event: "disconnect", payload: { id: "ada" } }),
    });
    expect(sent.status).toBe(202);
    expect(await alive(ada, "hb")).toBe(true);
  });
});

describe("force-disconnect across worker threads", () => {
  let node: NodeProcess | undefined;
  afterEach(async () => {
    await node?.stop();
    node = undefined;
  });

  it("closes the id's sockets on every worker of the node", async () => {
    node = await NodeProcess.start(await freePort(), { ...AUTH_ENV, WORKERS: "2" }, ["--app", PROBE_APP]);
    const ada = await onEveryThread(node.port, "ada", 2);
    const bob = await open(node.port, "bob");
    expect((await postDisconnect(node.port, { id: "ada" })).status).toBe(202);
    for (const client of ada) expect((await client.closed()).code).toBe(4403);
    expect(await alive(bob, "hb")).toBe(true);
  });
});

describe("force-disconnect across nodes through Redis", () => {
  let redis: RedisServer;
  let nodes: NodeProcess[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start();
    // A runs two workers, so the disconnect also crosses threads inside a node.
    nodes = await Promise.all(
      [["A", "2"], ["B", "1"]].map(async ([name, workers]) =>
        NodeProcess.start(await freePort(), { ...AUTH_ENV, REDIS_URL: redis.url, NODE_NAME: name, WORKERS: workers }, ["--app", PROBE_APP]),
      ),
    );
  }, 60_000);
  // Nodes first: they drain through Redis.
  afterAll(() => Promise.all(nodes.map((node) => node.stop())).then(() => redis?.stop()), 60_000);

  it("POST /api/disconnect on one node closes the id's sockets on every node and worker", async () => {
    const [A, B] = nodes;
    const ada = [...(await onEveryThread(A.port, "ada", 2)), await open(B.port, "ada")];
    const bob = [await open(A.port, "bob"), await open(B.port, "bob")];
    expect((await postDisconnect(B.port, { id: "ada" })).status).toBe(202);
    for (const client of ada) expect(await client.closed()).toEqual({ code: 4403, reason: "disconnected by the server" });
    expect(await alive(bob[0], "hb")).toBe(true);
    expect(await alive(bob[1], "hb")).toBe(true);
  });

  it("logs why a connect was refused, never the token", async () => {
    const [, B] = nodes;
    const expired = signPhoenixToken(SECRET_KEY_BASE, SALT, "ada", { signedAt: Date.now() - 90_000_000 });
    expect(await openWithToken(`ws://127.0.0.1:${B.port}/socket/websocket?vsn=2.0.0`, expired)).toBe(403);
    await waitFor(() => B.output.includes('"websocket refused by auth"'), "the refusal in the log");
    const line = B.output.split("\n").find((l) => l.includes('"websocket refused by auth"')) ?? "";
    expect(JSON.parse(line)).toMatchObject({ reason: "expired token", detail: "older than its max age" });
    expect(B.output).not.toContain(expired);
    expect(B.output).not.toContain(expired.split(".")[1]);
  });
});
