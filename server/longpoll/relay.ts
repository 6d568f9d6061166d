import type { Fabric } from "../fabric/fabric.js";
import { relayTo, type RelayRequest } from "./relay-lane.js";
import type { LongPollMetrics } from "./longpoll-metrics.js";
import { statusBody } from "./answers.js";
import type { SessionRef } from "./session-token.js";

/** How much longer than the window the relaying thread waits for the owner's answer to a poll (the lanes' own hops). */
export const RELAY_MARGIN_MS = 2000;

export interface LongPollRelayOptions {
  fabric: Pick<Fabric, "ask">;
  metrics: LongPollMetrics;
  windowMs: number;
  /** Relays one thread may have in flight (longPollMaxRelays). */
  maxInFlight: number;
}

/**
 * Requests for a session another thread or node owns, handed to the owner over their lane on
 * the fabric (as Phoenix's LongPoll reaches its session over PubSub), so no load balancer needs
 * sticky sessions. A poll holds on the owner for its window, so the lane waits a little longer;
 * past `maxInFlight` relays, or without an answer in time, the client is told its session is
 * gone (410): it reconnects and rejoins, and the owner's session ends when its polls stop.
 */
export class LongPollRelay {
  private inFlight = 0;

  constructor(private readonly options: LongPollRelayOptions) {}

  async relay(ref: SessionRef, request: RelayRequest): Promise<string> {
    const { fabric, metrics, windowMs, maxInFlight } = this.options;
    if (this.inFlight >= maxInFlight) {
      metrics.longPollRelayed.inc({ outcome: "refused" });
      return statusBody(410);
    }
    this.inFlight++;
    metrics.longPollRelaysInFlight.set(this.inFlight);
    try {
      // A POST is answered as soon as its lines are handed over; a poll may hold for the window.
      const response = await relayTo(fabric, { node: ref.node, worker: ref.worker }, request, windowMs + RELAY_MARGIN_MS);
      metrics.longPollRelayed.inc({ outcome: response ? "answered" : "unanswered" });
      return response?.body ?? statusBody(410);
    } finally {
      this.inFlight--;
      metrics.longPollRelaysInFlight.set(this.inFlight);
    }
  }
}
