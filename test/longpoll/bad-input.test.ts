import { describe, expect, it } from "vitest";
import type { CinderServer } from "../../server/index.js";
import { SESSION_TOKEN_MAX_AGE_MS, SessionTokens } from "../../server/longpoll/session-token.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { waitFor } from "../support/wait.js";
import { frame, handshake, openSession, poll, pollUntil, post } from "./raw-longpoll.js";
import { joined, longPollSocket, pushed } from "./support.js";

const SECRET = "a-secret-key-base-of-enough-length-for-tests-0123456789";
const opened = perTest();

/** A phoenix.js LongPoll client in a room, to show that one session's bad input leaves the others alone. */
async function bystander(server: CinderServer) {
  const socket = opened.socket(longPollSocket(server.port));
  const channel = socket.channel("room:calm", { user: "bystander", presence: false });
  await joined(channel);
  return async () => {
    expect(await pushed(channel, "ping", {})).toEqual({ status: "ok", response: {} });
  };
}

describe("LongPoll requests that are wrong", () => {
  it("answers garbage ndjson 400 and ends that session, and nothing else", async () => {
    const server = await opened.server({ secretKeyBase: SECRET });
    const stillFine = await bystander(server);
    for (const garbage of ["[not json", "%%% not base64 %%%", '["1","1","room:x"]']) {
      const token = await openSession(server.port);
      const { httpStatus, body } = await post(server.port, token, garbage);
      expect(httpStatus).toBe(200);
      expect(body).toEqual({ status: 400 });
      expect((await poll(server.port, token)).body).toEqual({ status: 410 });
    }
    expect(await metricOf(server, "cinder_frame_errors_total")).toBeGreaterThanOrEqual(2);
    await stillFine();
  });

  it("refuses a POST of more than 100 lines as a whole (400), and takes 100", async () => {
    const server = await opened.server({ secretKeyBase: SECRET });
    const token = await openSession(server.port);
    const ping = frame(null, "1", "phoenix", "heartbeat", {});
    expect((await post(server.port, token, Array(101).fill(ping).join("\n"))).body).toEqual({ status: 400 });
    // Nothing of the refused batch was handled: the next poll waits (204), no 101 replies.
    expect(await metricOf(server, "cinder_messages_received_total")).toBe(0);
    expect((await post(server.port, token, Array(100).fill(ping).join("\r\n"))).body).toEqual({ status: 200 });
    const replies = await pollUntil(server.port, token, () => true);
    expect(replies).toHaveLength(100);
  });

  it("answers an oversized body 413 without reading it into a frame", async () => {
    const server = await opened.server({ secretKeyBase: SECRET, maxPayloadLength: 1024 });
    const stillFine = await bystander(server);
    const token = await openSession(server.port);
    const huge = frame(null, "1", "room:calm", "new_msg", { body: "x".repeat(8 * 1024) });
    expect((await post(server.port, token, huge)).body).toEqual({ status: 413 });
    // One line over maxPayloadLength in a body under the bound ends the session as a WebSocket's 1009 would.
    const tokenB = await openSession(server.port);
    expect((await post(server.port, tokenB, frame(null, "1", "room:calm", "new_msg", { body: "y".repeat(2000) }))).body).toEqual({ status: 413 });
    expect((await poll(server.port, tokenB)).body).toEqual({ status: 410 });
    await stillFine();
  });

  it("answers a forged, a foreign or an expired token 410 for a poll and a post", async () => {
    const server = await opened.server({ secretKeyBase: SECRET });
    const token = await openSession(server.port);
    const [body, mac] = token.split(".");
    const forged = `${body}.${mac.slice(0, -2)}${mac.endsWith("AA") ? "BB" : "AA"}`;
    const foreign = new SessionTokens("another-secret-entirely-another-secret-entirely").sign({ node: server.config.nodeName, worker: 0, id: "x" });
    const expired = new SessionTokens(SECRET).sign({ node: server.config.nodeName, worker: 0, id: "x" }, Date.now() - SESSION_TOKEN_MAX_AGE_MS - 1000);
    for (const bad of [forged, foreign, expired, "garbage", "a".repeat(5000)]) {
      expect((await poll(server.port, bad)).body).toEqual({ status: 410 });
      expect((await post(server.port, bad, frame(null, "1", "phoenix", "heartbeat", {}))).body).toEqual({ status: 410 });
    }
    // The real session is untouched.
    expect((await post(server.port, token, frame(null, "1", "phoenix", "heartbeat", {}))).body).toEqual({ status: 200 });
  });

  it("answers a POST for a session that ended 410", async () => {
    const server = await opened.server({ secretKeyBase: SECRET, longPollWindowMs: 200 });
    const token = await openSession(server.port);
    await waitFor(async () => (await metricOf(server, "cinder_longpoll_timeouts_total")) === 1, "the idle session to end");
    expect((await post(server.port, token, frame(null, "1", "phoenix", "heartbeat", {}))).body).toEqual({ status: 410 });
  });

  it("ends an idle session opened after the thread's last one ended (the idle sweep runs again)", async () => {
    const server = await opened.server({ secretKeyBase: SECRET, longPollWindowMs: 200 });
    await openSession(server.port);
    await waitFor(async () => (await metricOf(server, "cinder_longpoll_timeouts_total")) === 1, "the first idle session to end");
    await waitFor(async () => (await metricOf(server, "cinder_longpoll_sessions")) === 0, "no session left");
    const token = await openSession(server.port);
    await waitFor(async () => (await metricOf(server, "cinder_longpoll_timeouts_total")) === 2, "the second idle session to end");
    expect((await post(server.port, token, frame(null, "1", "phoenix", "heartbeat", {}))).body).toEqual({ status: 410 });
  });

  it("refuses a handshake with a bad or missing vsn, or from a foreign origin, with 403", async () => {
    const server = await opened.server({ secretKeyBase: SECRET });
    for (const query of ["vsn=1.0.0", "vsn=3.0.0", "", "vsn=2.0.0x"]) {
      const { httpStatus, body } = await handshake(server.port, query);
      expect(httpStatus).toBe(200);
      expect(body).toEqual({ status: 403 });
    }
    expect((await handshake(server.port, "vsn=2.0.0", { origin: "https://evil.example" })).body).toEqual({ status: 403 });
    expect(await metricOf(server, "cinder_connects_rejected_total", { reason: "vsn" })).toBe(4);
    expect(await metricOf(server, "cinder_connects_rejected_total", { reason: "origin" })).toBe(1);
    expect(await metricOf(server, "cinder_longpoll_sessions")).toBe(0);
  });

  it("counts handshakes against maxConnectsPerSecondPerIp", async () => {
    const server = await opened.server({ secretKeyBase: SECRET, maxConnectsPerSecondPerIp: 2 });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await handshake(server.port)).body.status);
    expect(answers.filter((status) => status === 403).length).toBeGreaterThan(0);
    expect(await metricOf(server, "cinder_rate_limited_total", { limit: "connects" })).toBeGreaterThan(0);
  });

  it("applies a socket's limits to a session: topic length, payload depth, frame rate", async () => {
    const server = await opened.server({ secretKeyBase: SECRET, maxTopicLength: 20, maxFramesPerSecond: 2 });
    const long = await openSession(server.port);
    expect((await post(server.port, long, frame("1", "1", "room:" + "x".repeat(50), "phx_join", { user: "a" }))).body).toEqual({ status: 400 });
    const deep = await openSession(server.port);
    let nested: unknown = {};
    for (let i = 0; i < 40; i++) nested = { n: nested };
    expect((await post(server.port, deep, frame("1", "1", "room:x", "phx_join", nested))).body).toEqual({ status: 400 });
    expect(await metricOf(server, "cinder_frames_refused_total", { limit: "topic_length" })).toBe(1);
    expect(await metricOf(server, "cinder_frames_refused_total", { limit: "depth" })).toBe(1);
    const fast = await openSession(server.port);
    const pings = Array.from({ length: 5 }, (_, i) => frame(null, String(i), "phoenix", "heartbeat", {})).join("\n");
    expect((await post(server.port, fast, pings)).body).toEqual({ status: 200 });
    const replies = await pollUntil(server.port, fast, (message) => message[1] === "4");
    expect(replies.filter((message) => (message[4] as { status: string }).status === "error")).toHaveLength(3);
  });

  it("answers CORS preflights, and every answer is uncached JSON", async () => {
    const server = await opened.server({ secretKeyBase: SECRET });
    const preflight = await fetch(`http://127.0.0.1:${server.port}/socket/longpoll`, {
      method: "OPTIONS",
      headers: { "access-control-request-headers": "x-phoenix-longpoll-token, content-type", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get("access-control-allow-headers")).toBe("x-phoenix-longpoll-token, content-type");
    expect(preflight.headers.get("access-control-allow-methods")).toBe("get, post, options");
    const { headers } = await handshake(server.port);
    expect(headers.get("cache-control")).toBe("no-store");
    expect(headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(headers.get("access-control-allow-origin")).toBe("*");
  });

  it("ends a session whose buffer between polls overflows; its next poll learns it is gone", async () => {
    const server = await opened.server({ secretKeyBase: SECRET, longPollMaxBufferedBytes: 4096 });
    const token = await openSession(server.port);
    await post(server.port, token, frame("1", "1", "room:flood", "phx_join", { user: "slow", presence: false }));
    await pollUntil(server.port, token, (message) => message[3] === "phx_reply");
    // Nobody polls while the room gets more than the cap.
    for (let i = 0; i < 10; i++) server.broadcast("room:flood", "new_msg", { user: "x", body: "z".repeat(1000) });
    await waitFor(async () => (await metricOf(server, "cinder_longpoll_overflows_total")) === 1, "the overflow");
    expect((await poll(server.port, token)).body).toEqual({ status: 410 });
    expect(await metricOf(server, "cinder_longpoll_sessions")).toBe(0);
  });

  it("serves phoenix.js 1.8's token in the query like 1.9's header", async () => {
    const server = await opened.server({ secretKeyBase: SECRET });
    const token = await openSession(server.port);
    const answer = await fetch(`http://127.0.0.1:${server.port}/socket/longpoll?vsn=2.0.0&token=${encodeURIComponent(token)}`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: frame(null, "7", "phoenix", "heartbeat", {}),
    });
    expect(await answer.json()).toEqual({ status: 200 });
    const polled = await (await fetch(`http://127.0.0.1:${server.port}/socket/longpoll?vsn=2.0.0&token=${encodeURIComponent(token)}`)).json();
    expect(polled.status).toBe(200);
    expect(polled.messages.map((m: string) => JSON.parse(m))).toEqual([[null, "7", "phoenix", "phx_reply", { status: "ok", response: {} }]]);
  });
});
