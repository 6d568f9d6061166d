import { Presence } from "phoenix";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { metricOf } from "../support/metrics.js";
import type { NodeProcess } from "../support/node-process.js";
import { perFile, perTest } from "../support/opened.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";
import { SessionTokens } from "../../server/longpoll/session-token.js";
import { frame, openSession, poll, post } from "./raw-longpoll.js";
import { collect, fetchOnFreshConnections, joined, longPollSocket, pushed, type ClientOptions } from "./support.js";

// No sticky sessions: LongPoll requests land on threads and nodes that do not own their session
// and are relayed to the owner over the fabric. Real node processes (the built CLI, demo chat).
const file = perFile();
const opened = perTest();
let redis: RedisServer;
let workers: NodeProcess;
let nodeA: NodeProcess;
let nodeB: NodeProcess;
const realFetch = globalThis.fetch;

beforeAll(async () => {
  redis = await file.redis();
  const env = { SECRET_KEY_BASE: "a-cluster-secret-key-base-of-enough-length-0123456789", PRESENCE_BROADCAST_PERIOD: "300" };
  [workers, nodeA, nodeB] = await Promise.all([
    file.node({ name: "W", workers: 2 }),
    file.node({ name: "A", redis, env }),
    file.node({ name: "B", workers: 2, redis, env }),
  ]);
}, 60_000);

afterEach(() => {
  globalThis.fetch = realFetch;
});

/** The whole channel story over LongPoll, with a WebSocket client on `wsPort` in the same room. */
async function channelStory(lpPort: number, wsPort: number, topic: string, options: ClientOptions): Promise<void> {
  const lp = opened.socket(longPollSocket(lpPort, options));
  const ws = opened.phoenix(wsPort);
  const lpRoom = lp.channel(topic, { user: "lp" });
  const wsRoom = ws.channel(topic, { user: "ws" });
  const lpPresence = new Presence(lpRoom);
  const wsPresence = new Presence(wsRoom);
  const lpMessages = collect<{ body: string }>(lpRoom, "new_msg");
  const wsMessages = collect<{ body: string }>(wsRoom, "new_msg");
  await joined(wsRoom);
  await joined(lpRoom);
  const users = (presence: Presence) => presence.list((key) => key).sort().join(",");
  await waitFor(() => users(lpPresence) === "lp,ws" && users(wsPresence) === "lp,ws", "both presences on both sides", 10_000);

  expect(await pushed(lpRoom, "ping", {})).toEqual({ status: "ok", response: {} });
  for (let i = 0; i < 5; i++) {
    expect(await pushed(lpRoom, "new_msg", { body: `lp ${i}` })).toEqual({ status: "ok", response: {} });
    expect(await pushed(wsRoom, "new_msg", { body: `ws ${i}` })).toEqual({ status: "ok", response: {} });
  }
  const bodies = (messages: Array<{ body: string }>) => messages.map((message) => message.body).sort().join(",");
  await waitFor(() => lpMessages.length === 10 && wsMessages.length === 10, "every message on both sides", 10_000);
  expect(bodies(lpMessages)).toBe(bodies(wsMessages));

  // A binary push goes up as base64 and reaches the channel (the demo room answers it: not a text message).
  expect(await pushed(lpRoom, "new_msg", new Uint8Array([1, 2, 3]).buffer)).toEqual({ status: "error", response: { reason: "body must be a non-empty string" } });

  await new Promise((resolve) => lpRoom.leave().receive("ok", resolve));
  await waitFor(() => users(wsPresence) === "ws", "the longpoll presence to leave", 10_000);
}

describe("LongPoll without sticky sessions", () => {
  it("works on a node with two workers, each request on a new connection (relayed between the workers)", async () => {
    globalThis.fetch = fetchOnFreshConnections;
    await channelStory(workers.port, workers.port, "room:workers", {});
    globalThis.fetch = realFetch;
    expect(await metricOf(workers, "cinder_longpoll_relayed_total", { outcome: "answered" })).toBeGreaterThan(0);
    expect(await metricOf(workers, "cinder_longpoll_relayed_total", { outcome: "unanswered" })).toBe(0);
  });

  it("works across two nodes with Redis, its requests alternating between them (relayed between the nodes)", async () => {
    await channelStory(nodeA.port, nodeB.port, "room:nodes", { ports: [nodeA.port, nodeB.port] });
    const relayed = async (node: NodeProcess) => metricOf(node, "cinder_longpoll_relayed_total", { outcome: "answered" });
    expect((await relayed(nodeA)) + (await relayed(nodeB))).toBeGreaterThan(10);
    expect(await metricOf(nodeA, "cinder_longpoll_relayed_total", { outcome: "unanswered" })).toBe(0);
    expect(await metricOf(nodeB, "cinder_longpoll_relayed_total", { outcome: "unanswered" })).toBe(0);
  });

  it("answers 410 for a session whose owner cannot be reached, and refuses relays past longPollMaxRelays", async () => {
    const secret = "an-in-process-secret-key-base-of-enough-length-0123456789";
    const settings = { redisUrl: redis.url, secretKeyBase: secret, longPollWindowMs: 500, longPollMaxRelays: 1, presenceBroadcastPeriod: 300 };
    const [C, D] = await Promise.all([opened.server({ ...settings, nodeName: "C" }), opened.server({ ...settings, nodeName: "D" })]);
    const tokens = new SessionTokens(secret);
    // A node that does not exist (or is gone): the relay lane gets no answer within window + margin.
    const gone = tokens.sign({ node: "nowhere", worker: 0, id: "x" });
    expect((await poll(C.port, gone)).body).toEqual({ status: 410 });
    expect((await post(C.port, gone, frame(null, "1", "phoenix", "heartbeat", {}))).body).toEqual({ status: 410 });
    expect(await metricOf(C, "cinder_longpoll_relayed_total", { outcome: "unanswered" })).toBe(2);

    // A session on D, polled through C: the first poll holds on D (one relay in flight), a second one is refused at once.
    const token = await openSession(D.port);
    const first = poll(C.port, token);
    await waitFor(async () => (await metricOf(C, "cinder_longpoll_relays_in_flight")) === 1, "the first relay to be in flight");
    const other = await openSession(D.port);
    expect((await poll(C.port, other)).body).toEqual({ status: 410 });
    expect(await metricOf(C, "cinder_longpoll_relayed_total", { outcome: "refused" })).toBe(1);
    expect((await first).body).toMatchObject({ status: 204, token });
    expect(await metricOf(C, "cinder_longpoll_relayed_total", { outcome: "answered" })).toBe(1);
  });
});
