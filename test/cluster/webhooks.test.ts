import { Presence, type Channel } from "phoenix";
import { beforeAll, describe, expect, it } from "vitest";
import type { NodeProcess } from "../support/node-process.js";
import { perFile, perTest } from "../support/opened.js";
import { joined } from "../support/phoenix-channel.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";
import { WEBHOOK_SECRET, WebhookReceiver } from "../support/webhook-receiver.js";

// Two real node processes (A with two worker threads) sharing a real redis-server, sending to one
// real HTTP backend: each event is sent by exactly one of them.
const file = perFile();
const opened = perTest();
let redis: RedisServer;
let backend: WebhookReceiver;
let nodes: { A: NodeProcess; B: NodeProcess };

const WEBHOOKS = () => JSON.stringify({ url: backend.url, secret: WEBHOOK_SECRET, batchDelayMs: 5, retryMinMs: 20, retryMaxMs: 200 });
// Presence notices a dead node within the liveness TTL, not after heartbeat silence.
const env = () => ({ WEBHOOKS: WEBHOOKS(), PRESENCE_BROADCAST_PERIOD: "300", PRESENCE_DOWN_PERIOD: "30000", PRESENCE_PERMDOWN_PERIOD: "600000" });

beforeAll(async () => {
  redis = await file.redis();
  backend = file.keep(await WebhookReceiver.start(), (r) => r.close());
  const [A, B] = await Promise.all([file.node({ name: "A", workers: 2, redis, env: env() }), file.node({ name: "B", redis, env: env() })]);
  nodes = { A, B };
}, 60_000);

function member(node: NodeProcess, topic: string, user: string): Channel {
  return opened.phoenix(node.port).channel(topic, { user });
}

/**
 * Each node delivers its events in order: once a fresh topic's occupied event from every node
 * has arrived, whatever those nodes sent before it has too.
 */
async function settled(label: string): Promise<void> {
  for (const node of [nodes.A, nodes.B]) {
    const topic = `room:marker-${label}-${node.options.name}`;
    const channel = member(node, topic, "marker");
    await joined(channel);
    await waitFor(() => backend.of("channel_occupied", topic).length > 0, `the marker ${topic}`);
    channel.leave();
  }
}

const keys = (topic: string, type: "member_added" | "member_removed") => backend.of(type, topic).map((e) => ("key" in e ? e.key : undefined));

describe("webhooks across a cluster", () => {
  it("a subscriber moving between nodes: occupied once, vacated once; its presence added once, removed once", async () => {
    const observer = opened.observer(redis);
    const topic = "room:move";
    const onA = member(nodes.A, topic, "ada");
    await joined(onA);
    await waitFor(() => backend.of("member_added", topic).length === 1, "ada added");
    // The same user on B, then gone from A: the topic and the key stay held all along.
    const onB = member(nodes.B, topic, "ada");
    const presence = new Presence(onB);
    const metasOf = (key: string) => presence.list((k, p) => (k === key ? (p as { metas: unknown[] }).metas.length : 0)).reduce((a, b) => a + b, 0);
    await joined(onB);
    // The ledger takes changes in the order they reach Redis: B's hold is there before A lets go.
    await waitFor(async () => (await observer.scard(`{cinder:wh}:s:o:${topic}`)) === 2, "A and B holding the topic");
    await waitFor(async () => (await observer.scard(`{cinder:wh}:s:p:${JSON.stringify([topic, "ada"])}`)) === 2, "A and B holding ada");
    onA.leave();
    // A second thread of A subscribes and goes too.
    const twice = [member(nodes.A, topic, "bob"), member(nodes.A, topic, "bob")];
    for (const channel of twice) await joined(channel);
    // Both of bob's metas are tracked (B sees them) before either leaves.
    await waitFor(() => metasOf("bob") === 2, "bob twice");
    for (const channel of twice) channel.leave();
    onB.leave();
    await waitFor(() => backend.of("channel_vacated", topic).length === 1 && keys(topic, "member_removed").includes("ada"), "vacated, ada removed");
    await settled("move");
    expect(backend.of("channel_occupied", topic)).toHaveLength(1);
    expect(backend.of("channel_vacated", topic)).toHaveLength(1);
    expect(keys(topic, "member_added").sort()).toEqual(["ada", "bob"]);
    expect(keys(topic, "member_removed").sort()).toEqual(["ada", "bob"]);
    expect(backend.badSignatures).toBe(0);
  });

  it("a node killed with events undelivered: what it held is vacated and removed by a survivor, once", async () => {
    const observer = opened.observer(redis);
    const topic = "room:doomed";
    // B's backend calls fail from now on: B holds its events, retrying.
    const acknowledged = backend.requests.length;
    backend.status = () => 503;
    const onB = member(nodes.B, topic, "cy");
    await joined(onB);
    // B's joins are in the ledger (the events, in B's queue only).
    await waitFor(async () => (await observer.scard(`{cinder:wh}:s:o:${topic}`)) === 1, "B holding the topic in the ledger");
    await waitFor(async () => (await observer.scard(`{cinder:wh}:s:p:${JSON.stringify([topic, "cy"])}`)) === 1, "B holding cy in the ledger");
    await waitFor(() => backend.requests.slice(acknowledged).some((r) => r.status === 503), "B trying to send");
    nodes.B.child.kill("SIGKILL");
    await waitFor(() => nodes.B.exitCode !== undefined, "B gone");
    backend.status = () => 200;
    // A sweeps B from the ledger once B's alive key expires, and sends what B's death emptied.
    await waitFor(() => backend.of("channel_vacated", topic).length === 1 && keys(topic, "member_removed").includes("cy"), "vacated and cy removed, from A", 20_000);
    const B = await file.node({ ...nodes.B.options, env: env() });
    nodes.B = B;
    await settled("dead");
    // B's own occupied and member_added died with it (never acknowledged): that is the loss the docs state.
    expect(backend.of("channel_occupied", topic)).toHaveLength(0);
    expect(backend.of("channel_vacated", topic)).toHaveLength(1);
    expect(keys(topic, "member_removed")).toEqual(["cy"]);
  }, 40_000);
});
