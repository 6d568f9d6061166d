import type { Logger } from "../ops/logger.js";
import type { PresenceDiff, PresenceMap } from "./diff.js";
import { FetchChains } from "./fetch-chains.js";
import { FetchGate, type PresenceFetchDeclarations } from "./presence-fetch.js";
import type { PresenceMetrics } from "./presence-metrics.js";

/** The settings of presence fetches (the server's config has them under these names). */
export interface PresenceFetchSettings {
  presenceFetchConcurrency: number;
  presenceFetchTimeoutMs: number;
  presenceFetchMaxWaiting: number;
}

export interface PresenceFetchesParts {
  settings: PresenceFetchSettings;
  /** The presence fetch of a topic's channel, if it declares one. None: no topic is fetched. */
  declarations?: PresenceFetchDeclarations;
  /** Where a topic's diff goes once enriched (or not), in order: the diff log and the fan-out. */
  deliver(topic: string, diff: PresenceDiff): void;
  metrics: Pick<PresenceMetrics, "presenceFetches" | "presenceFetchWaiting">;
  log: Logger;
}

/**
 * A thread's presence fetches (docs/presence.md, "Presence fetch"): the coalesced diffs of
 * topics whose channel declares a `presenceFetch` are enriched once each, in order per topic,
 * before the diff log and the fan-out see them (FetchChains), and list snapshots once each
 * (PresenceStates asks `enrichList`); all under one gate per thread (FetchGate: concurrency,
 * timeout, the raw entries when a fetch fails).
 */
export class PresenceFetches {
  private readonly gate: FetchGate;
  private readonly chains: FetchChains;
  private waitingCount = 0;

  constructor(private readonly parts: PresenceFetchesParts) {
    const { settings, metrics, log } = parts;
    this.gate = new FetchGate({
      concurrency: settings.presenceFetchConcurrency,
      timeoutMs: settings.presenceFetchTimeoutMs,
      outcome: (outcome) => metrics.presenceFetches.inc({ outcome }),
      failed: (err, topic) => log.warn({ err, topic }, "presence fetch failed: the raw entries go out"),
    });
    this.chains = new FetchChains({
      gate: this.gate,
      fetchFor: (topic) => parts.declarations?.presenceFetchOf(topic),
      maxWaiting: settings.presenceFetchMaxWaiting,
      deliver: parts.deliver,
      outcome: (outcome, count) => metrics.presenceFetches.inc({ outcome }, count),
      waiting: (delta) => this.waiting(delta),
    });
  }

  /** A topic's coalesced diff (PresenceService.onDiff). */
  readonly diff = (topic: string, diff: PresenceDiff): void => this.chains.push(topic, diff);

  /** A topic's list for a new snapshot, enriched; undefined when its channel has no fetch. */
  readonly enrichList = (topic: string, list: PresenceMap): Promise<PresenceMap> | undefined => {
    const fetch = this.parts.declarations?.presenceFetchOf(topic);
    if (!fetch) return undefined;
    this.waiting(1);
    return this.gate.enrich(fetch, topic, list).finally(() => this.waiting(-1));
  };

  /** The thread stops: diffs waiting for a fetch go out raw, now. */
  stop(): void {
    this.chains.stop();
  }

  private waiting(delta: number): void {
    this.waitingCount += delta;
    this.parts.metrics.presenceFetchWaiting.set(this.waitingCount);
  }
}
