/**
 * Backend hooks against a real HTTP backend (test/support/hook-backend.ts): each hook's allow and
 * deny, what a client is told when the backend is slow, failing, busy or down, the circuit
 * breaker opening and closing, and a TypeScript channel winning over a hook pattern.
 */
import { createHmac } from "node:crypto";
import type { Channel, Socket } from "phoenix";
import { afterEach, describe, expect, it } from "vitest";
import { ConnectUnavailable, type CinderServer, type CreateServerOptions } from "../../server/index.js";
import { ok } from "../../server/channel/results.js";
import type { HooksConfig } from "../../server/settings/hooks-setting.js";
import { HookBackend } from "../support/hook-backend.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { collect, joined, pushed } from "../support/phoenix-channel.js";
import { RawClient } from "../support/raw-client.js";
import { socketUrl } from "../support/server.js";
import { waitFor } from "../support/wait.js";

const opened = perTest();
const backends: HookBackend[] = [];
afterEach(async () => {
  for (const backend of backends.splice(0)) await backend.close();
});

async function backend(port?: number): Promise<HookBackend> {
  const started = await HookBackend.start(port);
  backends.push(started);
  return started;
}

const SECRET = "hook-secret-0123456789";

/** A server whose room:* topics are the backend's. */
function server(b: HookBackend, hooks: Partial<HooksConfig> = {}, options: CreateServerOptions = {}): Promise<CinderServer> {
  return opened.server({
    channels: {},
    hooks: {
      secret: SECRET,
      channels: { "room:*": { join: b.url("/join"), publish: { url: b.url("/publish"), events: ["say"] }, rpc: { url: b.url("/rpc"), events: ["ask"] } } },
      ...hooks,
    },
    ...options,
  });
}

function channelOf(socket: Socket, topic: string, params: object = {}): Channel {
  return socket.channel(topic, params);
}

/** A join's refusal (or "joined"); a refused channel is left, so that phoenix.js does not retry it behind the test's back. */
const joinError = (channel: Channel) =>
  new Promise<unknown>((resolve) => {
    channel
      .join()
      .receive("error", (reason: unknown) => {
        channel.leave();
        resolve(reason);
      })
      .receive("ok", () => resolve("joined"));
  });

describe("join hook", () => {
  it("allows with the backend's reply and assigns, signed, and the later hooks see the assigns", async () => {
    const b = await backend();
    b.route("/join", ({ body }) => ({ allow: true, response: { welcome: body.topic }, assigns: { role: "admin" } }));
    b.route("/rpc", ({ body }) => ({ status: "ok", response: { role: (body.assigns as { role: string }).role, event: body.event } }));
    const s = await server(b);
    const socket = opened.phoenix(s.port);
    const channel = channelOf(socket, "room:1", { nick: "ann" });
    expect(await joined(channel)).toEqual({ welcome: "room:1" });
    expect(await pushed(channel, "ask", { q: 1 })).toEqual({ status: "ok", response: { role: "admin", event: "ask" } });
    const [join] = b.to("/join");
    expect(join.body).toMatchObject({ v: 1, hook: "join", node: s.config.nodeName, topic: "room:1", params: { nick: "ann" }, assigns: {} });
    expect(typeof join.body.socketId).toBe("string");
    expect(join.headers["x-cinder-signature"]).toBe(`sha256=${createHmac("sha256", SECRET).update(join.raw).digest("hex")}`);
    expect(await metricOf(s, "cinder_hook_requests_total", { hook: "join", outcome: "allow" })).toBe(1);
  });

  it("denies with the backend's reason", async () => {
    const b = await backend();
    b.route("/join", () => ({ allow: false, reason: "not a member" }));
    const s = await server(b);
    expect(await joinError(channelOf(opened.phoenix(s.port), "room:1"))).toEqual({ reason: "not a member" });
    expect(await metricOf(s, "cinder_hook_requests_total", { hook: "join", outcome: "deny" })).toBe(1);
  });

  it("a TypeScript channel for a topic wins over the hook pattern", async () => {
    const b = await backend();
    b.route("/join", () => ({ allow: false }));
    const s = await server(b, {}, { channels: { "room:special": { join: () => ok({ from: "typescript" }) } } });
    const socket = opened.phoenix(s.port);
    expect(await joined(channelOf(socket, "room:special"))).toEqual({ from: "typescript" });
    expect(await joinError(channelOf(socket, "room:other"))).toEqual({ reason: "unauthorized" });
    expect(b.to("/join").map((r) => r.body.topic)).toEqual(["room:other"]);
  });
});

describe("publish and rpc hooks", () => {
  it("broadcasts a push as sent, or as the backend changed it, and refuses what it denies", async () => {
    const b = await backend();
    b.route("/join", () => ({ allow: true }));
    b.route("/publish", ({ body }) => {
      const text = (body.payload as { text: string }).text;
      if (text === "spam") return { allow: false, reason: "spam" };
      if (text === "shout") return { allow: true, event: "said", payload: { text: "SHOUT" } };
      return { allow: true };
    });
    const s = await server(b);
    const [sender, listener] = [opened.phoenix(s.port), opened.phoenix(s.port)];
    const [out, into] = [channelOf(sender, "room:1"), channelOf(listener, "room:1")];
    await joined(out);
    await joined(into);
    const says = collect(into, "say");
    const saids = collect(into, "said");
    expect(await pushed(out, "say", { text: "hi" })).toEqual({ status: "ok", response: {} });
    expect(await pushed(out, "say", { text: "spam" })).toEqual({ status: "error", response: { reason: "spam" } });
    expect(await pushed(out, "say", { text: "shout" })).toEqual({ status: "ok", response: {} });
    await waitFor(() => saids.length === 1, "the changed broadcast");
    expect(says).toEqual([{ text: "hi" }]);
    expect(saids).toEqual([{ text: "SHOUT" }]);
    expect(b.to("/publish")[0].body).toMatchObject({ hook: "publish", topic: "room:1", event: "say", payload: { text: "hi" } });
    expect(await pushed(out, "other", {})).toEqual({ status: "error", response: { reason: "unmatched event" } });
  });

  it("answers an rpc push with the backend's status and response", async () => {
    const b = await backend();
    b.route("/join", () => ({ allow: true }));
    b.route("/rpc", ({ body }) => ((body.payload as { n: number }).n > 0 ? { status: "ok", response: { double: 2 * (body.payload as { n: number }).n } } : { status: "error", response: { reason: "negative" } }));
    const s = await server(b);
    const channel = channelOf(opened.phoenix(s.port), "room:1");
    await joined(channel);
    expect(await pushed(channel, "ask", { n: 21 })).toEqual({ status: "ok", response: { double: 42 } });
    expect(await pushed(channel, "ask", { n: -1 })).toEqual({ status: "error", response: { reason: "negative" } });
  });
});

describe("connect hook", () => {
  it("allows with a user id, assigns and topics joined without the join hook; denies with 403", async () => {
    const b = await backend();
    b.route("/connect", ({ body }) => {
      const params = body.params as Record<string, string>;
      if (params.token !== "good") return { allow: false };
      return { allow: true, userId: "u1", assigns: { plan: "pro" }, topics: ["room:u1"] };
    });
    b.route("/join", () => ({ allow: false, reason: "private" }));
    b.route("/rpc", ({ body }) => ({ status: "ok", response: { userId: body.userId, assigns: body.assigns } }));
    const s = await server(b, { connect: { url: b.url("/connect"), headers: ["X-Tenant"] } });
    expect(await RawClient.upgradeStatus(socketUrl(s, "vsn=2.0.0&token=bad"))).toBe(403);
    expect(await RawClient.upgradeStatus(socketUrl(s, "vsn=2.0.0&token=good"), { headers: { "x-tenant": "acme", cookie: "secret" } })).toBe(101);
    expect(b.to("/connect").at(-1)?.body).toMatchObject({ v: 1, hook: "connect", headers: { "x-tenant": "acme" }, params: { token: "good", vsn: "2.0.0" } });
    expect(b.to("/connect").at(-1)?.body.headers).toEqual({ "x-tenant": "acme" });
    await waitFor(async () => (await metricOf(s, "cinder_sockets")) === 0, "the probe socket to close");
    const socket = opened.phoenix(s.port, { token: "good" });
    const mine = channelOf(socket, "room:u1");
    expect(await joined(mine)).toEqual({});
    expect(await joinError(channelOf(socket, "room:u2"))).toEqual({ reason: "private" });
    expect(await pushed(mine, "ask", {})).toEqual({ status: "ok", response: { userId: "u1", assigns: { plan: "pro" } } });
    expect(b.to("/join").map((r) => r.body.topic)).toEqual(["room:u2"]);
    // server.disconnect reaches the socket by the id the backend named.
    expect(s.disconnect("u1")).toBe(1);
  });

  it("refuses with 503 when the backend is down, slow or failing", async () => {
    const b = await backend();
    b.route("/slow", () => "hang");
    b.route("/fail", () => ({ status: 500, json: {} }));
    const down = await backend();
    const downUrl = down.url("/connect");
    await down.close();
    backends.pop();
    for (const url of [downUrl, b.url("/fail")]) {
      const s = await server(b, { connect: url });
      expect(await RawClient.upgradeStatus(socketUrl(s))).toBe(503);
      // LongPoll says "try again" with the status phoenix.js's LongPoll retries on.
      expect(await (await fetch(`http://127.0.0.1:${s.port}/socket/longpoll?vsn=2.0.0`)).json()).toEqual({ status: 500 });
    }
    b.route("/deny", () => ({ allow: false }));
    const denying = await server(b, { connect: b.url("/deny") });
    expect(await (await fetch(`http://127.0.0.1:${denying.port}/socket/longpoll?vsn=2.0.0`)).json()).toEqual({ status: 403 });
    const slow = await server(b, { connect: { url: b.url("/slow"), timeoutMs: 50 } });
    expect(await RawClient.upgradeStatus(socketUrl(slow))).toBe(503);
    expect(await metricOf(slow, "cinder_hook_requests_total", { hook: "connect", outcome: "timeout" })).toBe(1);
    expect(await metricOf(slow, "cinder_connects_rejected_total", { reason: "connect_unavailable" })).toBe(1);
  });
  it("a connect hook in code wins over the backend's, and may say 503 with ConnectUnavailable", async () => {
    const b = await backend();
    b.route("/connect", () => ({ allow: true }));
    const s = await server(b, { connect: b.url("/connect") }, {
      connect: () => {
        throw new ConnectUnavailable("database down");
      },
    });
    expect(await RawClient.upgradeStatus(socketUrl(s))).toBe(503);
    expect(b.to("/connect")).toEqual([]);
  });
});

describe("failures", () => {
  it("a slow backend: the push is answered with backend timeout", async () => {
    const b = await backend();
    b.route("/join", () => ({ allow: true }));
    b.route("/rpc", () => "hang");
    const s = await server(b, { channels: { "room:*": { join: b.url("/join"), rpc: { url: b.url("/rpc"), timeoutMs: 50 } } } });
    const channel = channelOf(opened.phoenix(s.port), "room:1");
    await joined(channel);
    expect(await pushed(channel, "ask", {})).toEqual({ status: "error", response: { reason: "backend timeout" } });
    b.release();
  });

  it("refuses at once beyond concurrency and the wait queue: backend busy", async () => {
    const b = await backend();
    b.route("/join", () => ({ allow: true }));
    b.route("/rpc", () => "hang");
    const s = await server(b, { concurrency: 1, queue: 0, timeoutMs: 10_000 });
    const [one, two] = [channelOf(opened.phoenix(s.port), "room:1"), channelOf(opened.phoenix(s.port), "room:1")];
    await joined(one);
    await joined(two);
    const first = pushed(one, "ask", {});
    await waitFor(() => b.to("/rpc").length === 1, "the first rpc at the backend");
    expect(await pushed(two, "ask", {})).toEqual({ status: "error", response: { reason: "backend busy" } });
    b.release({ status: "ok", response: { n: 1 } });
    expect(await first).toEqual({ status: "ok", response: { n: 1 } });
  });

  it("500s open the breaker (refused without a call), and it closes once the backend recovers", async () => {
    const b = await backend();
    let healthy = false;
    b.route("/join", () => (healthy ? { allow: true } : { status: 500, json: { error: "boom" } }));
    const s = await server(b, { breaker: { failures: 3, coolDownMs: 200 } });
    const socket = opened.phoenix(s.port);
    for (let i = 0; i < 3; i++) expect(await joinError(channelOf(socket, `room:${i}`))).toEqual({ reason: "backend unavailable" });
    expect(await metricOf(s, "cinder_hook_breaker_opens_total", { hook: "join" })).toBe(1);
    expect(await metricOf(s, "cinder_hook_breakers_open")).toBe(1);
    // Open: refused at once, the backend not asked (each cool-down lets one probe through, which fails and opens it again).
    let tries = 0;
    await waitFor(async () => {
      expect(await joinError(channelOf(socket, `room:open-${tries++}`))).toEqual({ reason: "backend unavailable" });
      return (await metricOf(s, "cinder_hook_requests_total", { hook: "join", outcome: "open" })) >= 1;
    }, "a join refused by the open breaker");
    expect(b.to("/join").length).toBeLessThan(3 + tries);
    healthy = true;
    // After the cool-down a probe goes through and closes it.
    await waitFor(async () => (await joinError(channelOf(socket, `room:${Math.random()}`))) === "joined", "a join once the breaker let a probe through");
    expect(await metricOf(s, "cinder_hook_breakers_open")).toBe(0);
  });

  it("a backend down at start: joins refused as unavailable, then served once it is up", async () => {
    const probe = await backend();
    const port = probe.port;
    await probe.close();
    backends.pop();
    const url = (path: string) => `http://127.0.0.1:${port}${path}`;
    const s = await opened.server({ channels: {}, hooks: { breaker: { coolDownMs: 20 }, channels: { "room:*": { join: url("/join") } } } });
    const socket = opened.phoenix(s.port);
    expect(await joinError(channelOf(socket, "room:1"))).toEqual({ reason: "backend unavailable" });
    const b = await backend(port);
    b.route("/join", () => ({ allow: true }));
    await waitFor(async () => (await joinError(channelOf(socket, `room:${Math.random()}`))) === "joined", "a join once the backend is up");
  });
});
