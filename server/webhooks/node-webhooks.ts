import { settleWithin } from "../fabric/settle-within.js";
import type { Logger } from "../ops/logger.js";
import type { WebhookDelivery } from "./delivery.js";
import { eventOf, type WebhookFact } from "./webhook-event.js";
import type { WebhookLedger } from "./ledger.js";
import type { WebhookNotice } from "./webhook-notice.js";
import type { WebhookSettings } from "./webhook-settings.js";

/** How long a close waits for the ledger's answers (Redis unreachable: the node stops anyway). */
const LEDGER_ANSWERS_WAIT_MS = 5000;

/** A set's name in the ledger: a topic's subscribers, or a presence key's metas. */
const occupancySet = (topic: string) => `o:${topic}`;
const presenceSet = (topic: string, key: string) => `p:${JSON.stringify([topic, key])}`;

/** The event a set's first join or last leave is, from its name. */
function factOf(set: string, joined: boolean, meta?: Record<string, unknown>): WebhookFact {
  if (set.startsWith("o:")) return { type: joined ? "channel_occupied" : "channel_vacated", topic: set.slice(2) };
  const [topic, key] = JSON.parse(set.slice(2)) as [string, string];
  return joined ? { type: "member_added", topic, key, meta: meta ?? {} } : { type: "member_removed", topic, key };
}

/**
 * A node's webhooks: its threads' notices aggregated into the node's memberships (a node joins a
 * set at its first thread member and leaves at its last), each join and leave put to the cluster's
 * ledger, and the events this node is the one to send handed to the delivery. Kept by the thread
 * holding the node's link (a single-thread node's own thread, or a multi-worker node's main).
 *
 * Bounded by what the node serves: one entry per topic with a subscriber here and per presence
 * key with a meta held here, each gone with the last of them.
 */
export class NodeWebhooks {
  /** Set → the node's thread members in it (`<worker>` for a subscriber, `<worker>/<ref>` for a meta). */
  private readonly members = new Map<string, Set<string>>();
  /** Joins and leaves the ledger has not answered yet: a close waits for their events. */
  private readonly unanswered = new Set<Promise<void>>();

  constructor(
    private readonly settings: WebhookSettings,
    private readonly ledger: WebhookLedger,
    private readonly delivery: WebhookDelivery,
    private readonly log: Logger,
  ) {
    ledger.onSwept((sets) => {
      for (const set of sets) this.emit(factOf(set, false));
    });
  }

  /** A notice from the thread `worker` (0 on a single-thread node). */
  notice(notice: WebhookNotice, worker: number): void {
    switch (notice.k) {
      case "occupancy":
        return this.member(occupancySet(notice.topic), String(worker), notice.on);
      case "presence":
        return this.member(presenceSet(notice.topic, notice.key), `${worker}/${notice.ref}`, notice.on, notice.meta);
      case "client": {
        const { topic, event, payload, userId } = notice;
        return this.emit({ type: "client_event", topic, event, payload, ...(userId === undefined ? {} : { userId }) });
      }
    }
  }

  /** A worker ended without telling (crashed): what it held leaves with it. */
  workerGone(worker: number): void {
    const prefix = `${worker}/`;
    for (const [set, members] of [...this.members]) {
      for (const member of [...members]) if (member === String(worker) || member.startsWith(prefix)) this.member(set, member, false);
    }
  }

  /** Sends what is held (within the delivery's bound) and leaves the ledger: survivors sweep the rest. */
  async close(): Promise<void> {
    await settleWithin(Promise.all(this.unanswered), LEDGER_ANSWERS_WAIT_MS);
    await this.delivery.close();
    await this.ledger.close();
  }

  private member(set: string, member: string, on: boolean, meta?: Record<string, unknown>): void {
    let members = this.members.get(set);
    if (on) {
      if (!members) this.members.set(set, (members = new Set()));
      if (members.has(member)) return;
      members.add(member);
      if (members.size === 1) this.put(set, true, meta);
    } else {
      if (!members?.delete(member)) return;
      if (members.size > 0) return;
      this.members.delete(set);
      this.put(set, false);
    }
  }

  /** The node's join or leave, in order on the ledger; the event when this node made the set (non-)empty. */
  private put(set: string, join: boolean, meta?: Record<string, unknown>): void {
    const answered = (join ? this.ledger.join(set) : this.ledger.leave(set)).then(
      (decisive) => {
        if (decisive) this.emit(factOf(set, join, meta));
      },
      (err: unknown) => this.log.warn({ err, set, join }, "webhook ledger unreachable: this change sends no event"),
    );
    this.unanswered.add(answered);
    void answered.finally(() => this.unanswered.delete(answered));
  }

  private emit(fact: WebhookFact): void {
    if (this.settings.events.has(fact.type)) this.delivery.send(eventOf(fact));
  }
}
