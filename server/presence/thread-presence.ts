import type { Fabric } from "../fabric/fabric.js";
import type { Logger } from "../ops/logger.js";
import type { PresenceMetrics } from "./presence-metrics.js";
import { uwsCapabilities } from "../native-uws.js";
import type { LocalFanout } from "../pubsub/local-fanout.js";
import { catchUpBatchBytes } from "./catch-up-batch.js";
import type { PresenceDiff } from "./diff.js";
import type { FirstSyncReport } from "./first-sync.js";
import { PresenceCountFeed } from "./presence-count-feed.js";
import { PresenceFetches, type PresenceFetchSettings } from "./presence-fetches.js";
import type { PresenceFetchDeclarations } from "./presence-fetch.js";
import { PresenceService, type DiffReceiver } from "./presence-service.js";
import { PresenceStates } from "./presence-states.js";
import { trackerMetrics } from "./tracker-metrics.js";

/** The settings presence reads (the server's config has them under these names). */
export interface PresenceSettings extends PresenceFetchSettings {
  presenceBroadcastPeriod: number;
  presenceDownPeriod: number;
  presencePermdownPeriod: number;
  presenceFirstSyncTimeoutMs: number;
  presenceDiffCoalesceMs: number;
  presenceDiffCoalesceMaxMs: number;
  presenceEagerFlushMs: number;
  presenceCatchUpBatchBytes: number;
  presenceResyncBytes: number;
  countIntervalMs: number;
}

export interface ThreadPresenceParts {
  settings: PresenceSettings;
  /** This replica's name and incarnation (one per thread). */
  replicaName: string;
  incarnation: string;
  /** The fabric's gossip lane, and what it learns of the other replicas outside gossip (thread events). */
  fabric: Pick<Fabric, "gossip" | "onThreadEvent">;
  fanout: LocalFanout;
  metrics: PresenceMetrics;
  log: Logger;
  /** The presence fetch of a topic's channel, if it declares one (docs/presence.md, "Presence fetch"). */
  declarations?: PresenceFetchDeclarations;
}

/**
 * A thread's presence: its replica (PresenceService), how list subscribers catch up on a
 * topic's state (PresenceStates), and what this thread's subscribers receive of it:
 * `presence_diff` through the fan-out, and `presence_count`.
 */
export class ThreadPresence implements DiffReceiver {
  readonly service: PresenceService;
  readonly states: PresenceStates;
  private readonly counts: PresenceCountFeed;
  private readonly fetches: PresenceFetches;

  constructor(private readonly parts: ThreadPresenceParts) {
    const { settings, fanout, metrics, log } = parts;
    this.service = new PresenceService({
      nodeName: parts.replicaName,
      incarnation: parts.incarnation,
      broadcastPeriod: settings.presenceBroadcastPeriod,
      downPeriod: settings.presenceDownPeriod,
      permdownPeriod: settings.presencePermdownPeriod,
      firstSyncTimeout: settings.presenceFirstSyncTimeoutMs,
      onFirstSync: (report) => this.firstSyncEnded(report),
      diffCoalesceMs: settings.presenceDiffCoalesceMs,
      diffCoalesceMaxMs: settings.presenceDiffCoalesceMaxMs,
      onDiffMerged: () => metrics.presenceDiffsMerged.inc(),
      eagerFlushMs: settings.presenceEagerFlushMs,
      gossip: parts.fabric.gossip,
      diffs: this,
      onError: (err) => log.warn({ err }, "presence gossip problem"),
      observer: trackerMetrics(metrics),
    });
    parts.fabric.onThreadEvent((event) => this.service.threadEvent(event));
    const batch = catchUpBatchBytes(settings.presenceCatchUpBatchBytes, uwsCapabilities());
    if (batch.capped) {
      log.warn(
        { presenceCatchUpBatchBytes: settings.presenceCatchUpBatchBytes, batchBytes: batch.bytes, uws: uwsCapabilities().version },
        "presenceCatchUpBatchBytes is above the cork buffer, and this uWS build keeps a socket's send buffer at its largest size: batches stay within the cork buffer",
      );
    }
    this.fetches = new PresenceFetches({ settings, declarations: parts.declarations, deliver: (topic, diff) => this.sendDiff(topic, diff), metrics, log });
    this.states = new PresenceStates({
      snapshot: (topic) => this.service.snapshot(topic),
      setQuiet: (member, quiet) => fanout.setQuiet(member, quiet),
      resyncBytes: settings.presenceResyncBytes,
      firstSync: this.service.firstSync,
      batchBytes: batch.bytes,
      enrich: this.fetches.enrichList,
      metrics,
    });
    this.counts = new PresenceCountFeed({
      presence: this.service,
      intervalMs: settings.countIntervalMs,
      counted: (topic) => fanout.countsPresence(topic),
      deliver: (topic, count) => fanout.deliver(topic, "presence_count", { ...count }, null, undefined, "count"),
      metrics,
    });
  }

  /**
   * A coalesced diff of `topic`: through its channel's presence fetch if it declares one (in
   * order per topic), then to this thread's list subscribers (sendDiff).
   */
  deliverDiff(topic: string, diff: PresenceDiff): void {
    this.fetches.diff(topic, diff);
  }

  /**
   * A diff of `topic` to this thread's list subscribers as `presence_diff`, past the members
   * still catching up. Diffs are derived on each replica from the replicated state, so they are
   * delivered locally only (Phoenix does the same), never sent across the fabric.
   */
  private sendDiff(topic: string, diff: PresenceDiff): void {
    const { fanout, metrics } = this.parts;
    if (fanout.subscribersOf(topic) > 0) metrics.presenceDiffs.inc();
    const withheld = this.states.beforeDiff(topic, diff);
    if (withheld > 0) metrics.presenceDiffsWithheld.inc(withheld);
    fanout.deliver(topic, "presence_diff", { joins: diff.joins, leaves: diff.leaves }, null, undefined, "list");
  }

  /** Stops the count feed and the catch-ups (the replica itself stops with `service.stop`). */
  stopFeeds(): void {
    this.counts.stop();
    this.fetches.stop();
    this.states.stop();
  }

  /** The replica's first sync ended: counted, and logged (a timeout names who did not answer). */
  private firstSyncEnded({ outcome, missing, listed, ms }: FirstSyncReport): void {
    const { metrics, log } = this.parts;
    metrics.presenceFirstSync.inc({ outcome });
    if (outcome === "complete") log.debug({ ms }, "presence: first sync complete");
    else log.warn({ ms, missing, listed }, "presence: first sync timed out; lists are served with what came, the rest follows as diffs");
  }
}
