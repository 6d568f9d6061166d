import { beforeAll, describe, expect, it } from "vitest";
import { ok, signPhoenixToken, type CreateServerOptions } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import type { NodeOptions, NodeProcess } from "../support/node-process.js";
import { perFile, perTest } from "../support/opened.js";
import type { RawClient } from "../support/raw-client.js";
import { httpUrl } from "../support/server.js";
import { waitFor } from "../support/wait.js";
import { SALT, SECRET_KEY_BASE, clientWithToken, openWithToken } from "./support.js";

const AUTHED: NodeOptions = { app: "probe-app.mjs", env: { SECRET_KEY_BASE, AUTH: JSON.stringify({ phoenixToken: { salt: SALT } }) } };
const token = (user: string) => signPhoenixToken(SECRET_KEY_BASE, SALT, user);

const opened = perTest();
const open = (port: number, user: string) => clientWithToken(opened, { port }, token(user));

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
    const { thread } = await client.joined<{ thread: number }>("probe:who");
    if (!byThread.has(thread)) byThread.set(thread, client);
  }
  expect(byThread.size).toBe(threads);
  return [...byThread.values()];
}

describe("force-disconnect on one server", () => {
  const start = (options: CreateServerOptions = {}) => opened.server({ secretKeyBase: SECRET_KEY_BASE, auth: { phoenixToken: { salt: SALT } }, ...options });

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
    expect(await metricOf(server, "cinder_forced_disconnects_total")).toBe(1);
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
  it("closes the id's sockets on every worker of the node", async () => {
    const node = await opened.node({ ...AUTHED, workers: 2 });
    const ada = await onEveryThread(node.port, "ada", 2);
    const bob = await open(node.port, "bob");
    expect((await postDisconnect(node.port, { id: "ada" })).status).toBe(202);
    for (const client of ada) expect((await client.closed()).code).toBe(4403);
    expect(await alive(bob, "hb")).toBe(true);
  });
});

describe("force-disconnect across nodes through Redis", () => {
  const file = perFile();
  let nodes: NodeProcess[] = [];
  beforeAll(async () => {
    const redis = await file.redis();
    // A runs two workers, so the disconnect also crosses threads inside a node.
    nodes = await Promise.all([file.node({ ...AUTHED, name: "A", workers: 2, redis }), file.node({ ...AUTHED, name: "B", redis })]);
  }, 60_000);

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
    expect(await openWithToken(opened, B, expired)).toBe(403);
    await waitFor(() => B.output.includes('"websocket refused by auth"'), "the refusal in the log");
    const line = B.output.split("\n").find((l) => l.includes('"websocket refused by auth"')) ?? "";
    expect(JSON.parse(line)).toMatchObject({ reason: "expired token", detail: "older than its max age" });
    expect(B.output).not.toContain(expired);
    expect(B.output).not.toContain(expired.split(".")[1]);
  });
});
