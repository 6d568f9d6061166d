import type { PresenceChanges, PresenceEntry, ReplicaId } from "../../crdt/index.js";
import type { Fabric } from "../fabric/fabric.js";
import { isInternalTopic } from "../fabric/internal-topics.js";
import type { WebhookNotices } from "./webhook-notice.js";
import type { WebhookSettings } from "./webhook-settings.js";

/**
 * A thread's part of webhooks: it hears what happens here — the thread's interest in its topics,
 * the presence metas this replica holds, the client pushes the settings name — and tells its
 * node's webhooks (node-webhooks.ts, here or on the main thread). Built only when webhooks are
 * configured, and each tap only for the events asked for: without them nothing on the message
 * path changes.
 */
export class ThreadWebhooks {
  constructor(
    private readonly settings: WebhookSettings,
    private readonly notices: WebhookNotices,
    /** This thread's presence replica: the metas whose dot it made are the ones it reports. */
    private readonly replica: ReplicaId,
  ) {}

  get wantsOccupancy(): boolean {
    return this.settings.events.has("channel_occupied") || this.settings.events.has("channel_vacated");
  }

  get wantsPresence(): boolean {
    return this.settings.events.has("member_added") || this.settings.events.has("member_removed");
  }

  get wantsClientEvents(): boolean {
    return this.settings.events.has("client_event");
  }

  /** The fabric as the thread's fan-out sees it, telling the node of each topic's first and last subscriber here. */
  interest(fabric: Pick<Fabric, "setInterest">): Pick<Fabric, "setInterest"> {
    return {
      setInterest: (topic, interested) => {
        if (!isInternalTopic(topic)) this.notices.notice({ k: "occupancy", topic, on: interested });
        return fabric.setInterest(topic, interested);
      },
    };
  }

  /** The tracker's changes: the metas this replica holds that joined or left (joins first: a meta's update leaves its key held). */
  readonly presenceChanged = (changes: PresenceChanges): void => {
    for (const entry of changes.joins) if (entry.dot.replica === this.replica) this.presence(entry, true);
    for (const entry of changes.leaves) if (entry.dot.replica === this.replica) this.presence(entry, false);
  };

  /** A client's push on a joined channel. */
  readonly clientPush = (topic: string, event: string, payload: unknown, userId: string | undefined): void => {
    if (!this.settings.clientEvents.matches(topic, event)) return;
    this.notices.notice({ k: "client", topic, event, payload, ...(userId === undefined ? {} : { userId }) });
  };

  close(): Promise<void> {
    return this.notices.close();
  }

  private presence(entry: PresenceEntry, on: boolean): void {
    const { topic, key, dot } = entry;
    this.notices.notice({ k: "presence", topic, key, ref: String(dot.counter), on, ...(on ? { meta: { ...entry.meta } } : {}) });
  }
}
