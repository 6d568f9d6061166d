import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { WebhookEvent } from "../../server/webhooks/webhook-event.js";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from "../../server/webhooks/signature.js";

/** The secret test nodes sign their webhooks with. */
export const WEBHOOK_SECRET = "test-webhook-secret-0123456789";

/**
 * A backend's webhook endpoint, as a real node:http server on loopback: it verifies every
 * request's signature (a request that fails is answered 401 and counted), answers `status()`
 * (200 unless a test says otherwise), and keeps the events of the batches it acknowledged.
 */
export class WebhookReceiver {
  /** Events of the acknowledged batches, in order of arrival (duplicates kept). */
  readonly events: WebhookEvent[] = [];
  /** Every request's event ids and the status it was answered, in order. */
  readonly requests: Array<{ ids: string[]; status: number }> = [];
  badSignatures = 0;
  /** What the next request is answered (a test sets it, e.g. to fail N times). */
  status: () => number = () => 200;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => receiver?.receive(req.headers, Buffer.concat(chunks).toString("utf8"), (status) => res.writeHead(status).end()));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    receiver = new WebhookReceiver(server);
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  /** The acknowledged events of `type` (and `topic`). */
  of(type: WebhookEvent["type"], topic?: string): WebhookEvent[] {
    return this.events.filter((event) => event.type === type && (topic === undefined || event.topic === topic));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private receive(headers: Record<string, string | string[] | undefined>, body: string, answer: (status: number) => void): void {
    const signed = verifySignature(WEBHOOK_SECRET, { timestamp: headers[TIMESTAMP_HEADER] as string | undefined, signature: headers[SIGNATURE_HEADER] as string | undefined }, body);
    const { events } = JSON.parse(body) as { events: WebhookEvent[] };
    if (!signed) {
      this.badSignatures++;
      this.requests.push({ ids: events.map((event) => event.id), status: 401 });
      return answer(401);
    }
    const status = this.status();
    this.requests.push({ ids: events.map((event) => event.id), status });
    if (status >= 200 && status < 300) this.events.push(...events);
    answer(status);
  }
}
