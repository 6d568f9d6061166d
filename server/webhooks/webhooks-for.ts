import type { Medium, MemoryMedium, RedisMedium } from "../fabric/medium.js";
import type { Logger } from "../ops/logger.js";
import { WebhookDelivery } from "./delivery.js";
import { MemoryLedger } from "./ledger.js";
import { RedisLedger } from "./ledger-redis.js";
import { NodeWebhooks } from "./node-webhooks.js";
import type { WebhookMetrics } from "./webhook-metrics.js";
import type { WebhookNotices } from "./webhook-notice.js";
import type { WebhookSettings } from "./webhook-settings.js";
import { WorkerWebhookNotices } from "./webhooks-workers.js";

/** The node's webhooks, kept by the thread holding its link: the ledger in Redis, or this node's alone. */
export function nodeWebhooksFor(medium: MemoryMedium | RedisMedium, settings: WebhookSettings, metrics: WebhookMetrics, log: Logger): NodeWebhooks {
  const ledger = medium.kind === "redis" ? new RedisLedger({ connections: medium.connections, sender: medium.sender, log }) : new MemoryLedger();
  const webhookLog = log.child({ component: "webhooks" });
  return new NodeWebhooks(settings, ledger, new WebhookDelivery(settings, metrics, webhookLog), webhookLog);
}

/** Where a thread's notices go on `medium`: its main thread (a worker), or the node's webhooks it keeps itself. */
export function webhookNoticesFor(medium: Medium, settings: WebhookSettings, metrics: WebhookMetrics, log: Logger): WebhookNotices {
  if (medium.kind === "workers") return new WorkerWebhookNotices(medium.fabric, medium.worker);
  const node = nodeWebhooksFor(medium, settings, metrics, log);
  return { notice: (notice) => node.notice(notice, 0), close: () => node.close() };
}
