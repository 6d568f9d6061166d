import type { HistoryAuthority, HistoryDeclarations, HistoryLimits, HistoryPage } from "../history/history.js";
import { readableHistory, type HistoryRead } from "../history/history-read.js";
import { planRecovery, type Recovery, type Since } from "../history/recovery.js";
import type { Logger } from "../ops/logger.js";
import type { ChannelMetrics } from "./channel-metrics.js";
import type { LocalFanout } from "../pubsub/local-fanout.js";
import type { Subscriber } from "../pubsub/subscriber.js";

/** A join on a history topic, its topic routed and its history read, waiting to be settled. */
export interface PreparedHistoryJoin {
  /**
   * Decides the recovery from the history read and what reached the thread since, and attaches
   * the channel: call it synchronously right before the join reply. Null if it left meanwhile.
   */
  settle(): { recovery: Recovery; replay: string[] } | null;
}

export interface HistoryTopicsParts {
  /** The authority of this thread's history topics (history/history.ts). */
  authority: HistoryAuthority;
  fanout: Pick<LocalFanout, "prepare" | "recent" | "attachPrepared" | "readHistoryWith">;
  /** Which topics keep history: their channel's declaration (the router). */
  declarations: HistoryDeclarations;
  /** historyMaxRecover: the most messages a join recovers. */
  maxRecover: number;
  metrics: ChannelMetrics;
  log: Logger;
}

/** The topics whose channels keep history, as a thread reads them: a read (the API, HTTP, the dashboard) and a join's recovery. */
export class HistoryTopics {
  constructor(private readonly parts: HistoryTopicsParts) {
    // Subscribers behind on a history topic catch up from its authority (pubsub/behind-subscribers.ts).
    parts.fanout.readHistoryWith((topic, since, limit, limits) => parts.authority.read(topic, since, limit, limits));
  }

  /** Whether `topic`'s channel keeps history. */
  keeps(topic: string): boolean {
    return this.parts.declarations.historyOf(topic) !== undefined;
  }

  /**
   * What a history topic keeps after offset `since` (default 0: all of it), at most `limit`
   * messages (default 100, at most 1000), oldest first. Throws for a topic whose channel keeps
   * no history.
   */
  async read(topic: string, options: { since?: number; limit?: number } = {}): Promise<HistoryRead> {
    const limits = this.parts.declarations.historyOf(topic);
    if (!limits) throw new TypeError(`topic ${JSON.stringify(topic)} keeps no history (see the channel's \`history\` option)`);
    const since = options.since ?? 0;
    const limit = Math.min(options.limit ?? 100, 1000);
    if (!Number.isSafeInteger(since) || since < 0) throw new TypeError("since must be a non-negative integer");
    if (!Number.isSafeInteger(limit) || limit < 0) throw new TypeError("limit must be a non-negative integer");
    return readableHistory(await this.parts.authority.read(topic, since, limit, limits));
  }

  /**
   * Instead of the fan-out's `subscribe`, a channel's join on a history topic: `since` is where
   * the client says it stopped (docs/history-and-recovery.md).
   */
  async join(subscriber: Subscriber, since: Since | undefined): Promise<PreparedHistoryJoin> {
    const { fanout, authority, maxRecover, metrics, log } = this.parts;
    const { topic } = subscriber;
    const limits = subscriber.handler.history as HistoryLimits;
    const routed = fanout.prepare(subscriber);
    if (routed) await routed;
    let page: HistoryPage;
    try {
      page = await authority.read(topic, since ? since.o : Number.MAX_SAFE_INTEGER, since ? maxRecover : 0, limits);
    } catch (err) {
      log.warn({ err, topic }, "history unreadable: the join goes ahead without recovery");
      page = { epoch: "", top: 0, entries: [] };
    }
    return {
      settle: () => {
        const plan = planRecovery(since, page, fanout.recent(topic), maxRecover);
        if (!fanout.attachPrepared(subscriber)) return null;
        metrics.historyJoins.inc({ outcome: !since ? "fresh" : plan.recovery.recovered ? "recovered" : "not_recovered" });
        return plan;
      },
    };
  }
}
