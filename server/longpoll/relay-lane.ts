import type { Fabric, ThreadAddress } from "../fabric/fabric.js";

/** LongPoll's lane to one thread of the cluster: a request for a session that thread owns. */
export const RELAY_LANE = "longpoll";

/**
 * A LongPoll request that reached a thread which does not own its session (docs/longpoll.md):
 * handed to the owner as it came. `lines` are a POST's ndjson lines.
 */
export interface RelayRequest {
  kind: "longpoll";
  method: "GET" | "POST";
  token: string;
  lines?: string[];
}

/** The owner's answer: the JSON body the client gets. */
export interface RelayResponse {
  body: string;
}

/** Hands `request` to the thread `to` and resolves with its answer, or undefined when none came within `timeoutMs`. */
export async function relayTo(fabric: Pick<Fabric, "ask">, to: ThreadAddress, request: RelayRequest, timeoutMs: number): Promise<RelayResponse | undefined> {
  const [answer] = await fabric.ask(RELAY_LANE, to, request, timeoutMs);
  const body = (answer as RelayResponse | undefined)?.body;
  return typeof body === "string" ? { body } : undefined;
}

/** How this thread answers requests relayed to it (a request that is not one is not answered). */
export function serveRelays(fabric: Pick<Fabric, "serve">, responder: (request: RelayRequest) => Promise<RelayResponse | undefined>): void {
  fabric.serve(RELAY_LANE, async (request) => (isRequest(request) ? responder(request) : undefined));
}

function isRequest(value: unknown): value is RelayRequest {
  const request = value as RelayRequest | null;
  if (typeof request !== "object" || request === null || request.kind !== "longpoll") return false;
  if ((request.method !== "GET" && request.method !== "POST") || typeof request.token !== "string") return false;
  return request.lines === undefined || (Array.isArray(request.lines) && request.lines.every((line) => typeof line === "string"));
}
