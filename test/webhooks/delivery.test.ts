import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { metricGroup, metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { waitFor } from "../support/wait.js";
import { WEBHOOK_SECRET, WebhookReceiver } from "../support/webhook-receiver.js";
import { WebhookDelivery } from "../../server/webhooks/delivery.js";
import { eventOf } from "../../server/webhooks/webhook-event.js";
import { webhookMetrics } from "../../server/webhooks/webhook-metrics.js";
import { resolveWebhooks } from "../../server/webhooks/webhook-settings.js";

// The delivery alone, against a real HTTP backend, its log lines read back as JSON.
const opened = perTest();

function capturedLog() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: "info" }, stream), lines };
}

describe("webhook delivery", () => {
  it("holds at most maxQueue events: past it new ones are dropped, counted and logged", async () => {
    const backend = opened.keep(await WebhookReceiver.start(), (r) => r.close());
    let acknowledge = false;
    backend.status = () => (acknowledge ? 200 : 503);
    const metrics = metricGroup(webhookMetrics);
    const { log, lines } = capturedLog();
    const settings = resolveWebhooks({ url: backend.url, secret: WEBHOOK_SECRET, batchSize: 2, batchDelayMs: 0, retryMinMs: 5, retryMaxMs: 20, maxQueue: 3 });
    const delivery = opened.keep(new WebhookDelivery(settings, metrics, log), (d) => d.close());
    const topics = ["a", "b", "c", "d", "e"];
    for (const topic of topics) delivery.send(eventOf({ type: "channel_occupied", topic }));
    // Three held (the first batch of two being retried, one queued), two dropped at once.
    expect(await metricOf(metrics, "cinder_webhook_dropped_total", { reason: "queue_full" })).toBe(2);
    expect(await metricOf(metrics, "cinder_webhook_queue")).toBe(3);
    await waitFor(() => lines.find((line) => line.msg === "webhook events dropped"), "the log line of what was dropped");
    const line = lines.find((l) => l.msg === "webhook events dropped")!;
    expect(line).toMatchObject({ dropped: 1, byReason: { queue_full: 1 }, byType: { channel_occupied: 1 } });
    await waitFor(async () => (await metricOf(metrics, "cinder_webhook_retries_total")) >= 1, "a retry");
    acknowledge = true;
    await waitFor(() => backend.events.length === 3, "the three held events");
    expect(backend.events.map((e) => e.topic)).toEqual(["a", "b", "c"]);
    await waitFor(() => lines.filter((l) => l.msg === "webhook events dropped").length === 2, "the second drop, in the next line");
    expect(lines.filter((l) => l.msg === "webhook events dropped")[1]).toMatchObject({ dropped: 1, sample: [{ topic: "e", type: "channel_occupied" }] });
    expect(await metricOf(metrics, "cinder_webhook_queue")).toBe(0);
  });

  it("gives a batch up after maxAttempts, counted as dropped", async () => {
    const backend = opened.keep(await WebhookReceiver.start(), (r) => r.close());
    backend.status = () => 500;
    const metrics = metricGroup(webhookMetrics);
    const { log, lines } = capturedLog();
    const settings = resolveWebhooks({ url: backend.url, secret: WEBHOOK_SECRET, batchDelayMs: 0, retryMinMs: 5, retryMaxMs: 10, maxAttempts: 3 });
    const delivery = opened.keep(new WebhookDelivery(settings, metrics, log), (d) => d.close());
    delivery.send(eventOf({ type: "channel_vacated", topic: "gone" }));
    await waitFor(async () => (await metricOf(metrics, "cinder_webhook_dropped_total", { reason: "attempts" })) === 1, "the batch given up");
    expect(backend.requests).toHaveLength(3);
    await waitFor(() => lines.find((l) => l.msg === "webhook events dropped"), "the log line");
  });
});
