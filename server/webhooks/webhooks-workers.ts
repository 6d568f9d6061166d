import type { Fabric } from "../fabric/fabric.js";
import type { NodeWebhooks } from "./node-webhooks.js";
import type { WebhookNotice, WebhookNotices } from "./webhook-notice.js";

/** The lane a worker's notices go to the node's main thread on (one-way, in order). */
export const WEBHOOK_LANE = "webhook";

interface WorkerNotice {
  worker: number;
  notice: WebhookNotice;
}

/** A worker's notices: told to the node's main thread, which keeps the node's webhooks. */
export class WorkerWebhookNotices implements WebhookNotices {
  constructor(
    private readonly fabric: Pick<Fabric, "tell">,
    private readonly worker: number,
  ) {}

  notice(notice: WebhookNotice): void {
    this.fabric.tell(WEBHOOK_LANE, "main", { worker: this.worker, notice } satisfies WorkerNotice);
  }

  async close(): Promise<void> {}
}

/** The main thread's side: its workers' notices go to the node's webhooks. */
export function serveWorkerWebhooks(main: Pick<Fabric, "serve">, node: NodeWebhooks): void {
  main.serve(WEBHOOK_LANE, async (message) => {
    const { worker, notice } = message as WorkerNotice;
    node.notice(notice, worker);
    return undefined;
  });
}
