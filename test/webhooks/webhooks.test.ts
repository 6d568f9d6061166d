import { describe, expect, it } from "vitest";
import type { Channel } from "phoenix";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { joined, pushed } from "../support/phoenix-channel.js";
import { waitFor } from "../support/wait.js";
import { WEBHOOK_SECRET, WebhookReceiver } from "../support/webhook-receiver.js";
import type { WebhooksSetting } from "../../server/webhooks/webhook-settings.js";

// One real server in this process, a real HTTP backend, real clients (phoenix.js).
const opened = perTest();

async function receiver(): Promise<WebhookReceiver> {
  return opened.keep(await WebhookReceiver.start(), (r) => r.close());
}

function webhooks(url: string, more: Partial<WebhooksSetting> = {}): WebhooksSetting {
  return { url, secret: WEBHOOK_SECRET, batchDelayMs: 5, retryMinMs: 10, retryMaxMs: 50, clientEvents: [{ topic: "room:*", events: ["new_msg"] }], ...more };
}

function member(port: number, topic: string, user: string): Channel {
  return opened.phoenix(port).channel(topic, { user });
}

describe("webhooks from one node", () => {
  it("sends occupied and member_added on the first join, vacated and member_removed on the last leave, signed", async () => {
    const backend = await receiver();
    const server = await opened.server({ webhooks: webhooks(backend.url) });
    const [a, b] = [member(server.port, "room:one", "ada"), member(server.port, "room:one", "bob")];
    await joined(a);
    await joined(b);
    await waitFor(() => backend.of("member_added").length === 2, "two member_added");
    a.leave();
    b.leave();
    await waitFor(() => backend.of("channel_vacated").length === 1 && backend.of("member_removed").length === 2, "vacated and two member_removed");
    expect(backend.of("channel_occupied", "room:one")).toHaveLength(1);
    expect(backend.of("member_added").map((e) => "key" in e && e.key).sort()).toEqual(["ada", "bob"]);
    expect(backend.of("member_removed").map((e) => "key" in e && e.key).sort()).toEqual(["ada", "bob"]);
    const added = backend.of("member_added")[0]!;
    expect(added).toMatchObject({ topic: "room:one", meta: { online_at: expect.any(String) } });
    expect(backend.badSignatures).toBe(0);
    // Every event has its own id.
    expect(new Set(backend.events.map((e) => e.id)).size).toBe(backend.events.length);
    expect(await metricOf(server, "cinder_webhook_events_total", { type: "channel_occupied" })).toBe(1);
  });

  it("sends the client pushes it is told to, and no others", async () => {
    const backend = await receiver();
    const server = await opened.server({ webhooks: webhooks(backend.url, { events: ["client_event"] }) });
    const channel = opened.phoenix(server.port, { token: "x" }).channel("room:chat", { user: "ada" });
    await joined(channel);
    await pushed(channel, "ping", {});
    await pushed(channel, "new_msg", { body: "hello" });
    await waitFor(() => backend.events.length === 1, "the client event");
    expect(backend.events[0]).toMatchObject({ type: "client_event", topic: "room:chat", event: "new_msg", payload: { body: "hello" } });
  });

  it("retries a batch until the backend acknowledges it, with the same event ids", async () => {
    const backend = await receiver();
    let failures = 3;
    backend.status = () => (failures-- > 0 ? 500 : 200);
    const server = await opened.server({ webhooks: webhooks(backend.url, { events: ["channel_occupied"] }) });
    await joined(member(server.port, "room:retry", "ada"));
    await waitFor(() => backend.events.length === 1, "the event, acknowledged");
    expect(backend.requests.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    const ids = backend.requests.map((r) => r.ids.join());
    expect(new Set(ids).size).toBe(1);
    expect(backend.events[0]!.id).toBe(ids[0]);
    expect(await metricOf(server, "cinder_webhook_retries_total")).toBe(3);
    await waitFor(async () => (await metricOf(server, "cinder_webhook_delivered_total")) === 1, "the delivery counted");
  });

  it("refuses a webhooks setting that is not valid, saying which field", async () => {
    await expect(opened.server({ webhooks: { url: "ftp://x", secret: WEBHOOK_SECRET } })).rejects.toThrow(/webhooks url must be an http/);
    await expect(opened.server({ webhooks: { url: "http://x", secret: "short" } })).rejects.toThrow(/webhooks secret must be a string of at least 16/);
    await expect(opened.server({ webhooks: { url: "http://x", secret: WEBHOOK_SECRET, batchSize: 0 } })).rejects.toThrow(/webhooks batchSize must be an integer from 1/);
    await expect(opened.server({ webhooks: { url: "http://x", secret: WEBHOOK_SECRET, events: ["client_event"] } })).rejects.toThrow(/clientEvents names no topic/);
  });
});
