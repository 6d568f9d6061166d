/**
 * Who in the cluster holds each set — a topic's subscribers, a presence key's metas — counted by
 * node, so that one node learns it made a set non-empty or empty: the one node that sends the
 * event (docs/webhooks.md, "One sender per event"). A node joins a set when its first thread
 * member arrives and leaves it when its last goes (node-webhooks.ts aggregates its threads).
 */
export interface WebhookLedger {
  /** This node joins `set`; true when no node held it before (this node sends the event). */
  join(set: string): Promise<boolean>;
  /** This node leaves `set`; true when no node holds it now. */
  leave(set: string): Promise<boolean>;
  /**
   * The sets a dead node held that this node emptied by removing it: each set once in the cluster
   * (the survivor whose sweep emptied it sends the event).
   */
  onSwept(listener: (sets: string[]) => void): void;
  close(): Promise<void>;
}

/** The ledger of a node alone (no Redis): its own sets are the cluster's. */
export class MemoryLedger implements WebhookLedger {
  async join(): Promise<boolean> {
    return true;
  }

  async leave(): Promise<boolean> {
    return true;
  }

  onSwept(): void {}

  async close(): Promise<void> {}
}
