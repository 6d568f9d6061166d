/** Why a tracker asked a peer for its state. */
export type TransferReason =
  /** The peer's clock had dots ours lacked (checked every clockSamplePeriods ticks). */
  | "behind"
  /** A delta of the peer went missing (its sequence number jumped). */
  | "gap"
  /** The peer's own presences, at this replica's start or when the peer was first seen. */
  | "start";

/** A replica's state as of one moment: each figure is O(peers) to take, never O(entries). */
export interface ReplicaFigures {
  /** Visible entries (members) of every topic in this replica. */
  entries: number;
  /** Peers heard from and not silent for downPeriod, and those that are (kept until permdown). */
  replicasUp: number;
  replicasDown: number;
  /**
   * Dots this replica has not received yet: over the peers up, each peer's own counter in its
   * latest heartbeat less the number of that peer's dots this replica has observed.
   */
  lag: number;
  /**
   * The longest a heartbeat read since the previous tick had been on its way (now less its
   * sender's time): 0 when none was read. A thread that reads its gossip late shows it here, where
   * `lag` cannot (what is not read yet is not known to be missing). Includes the hosts' clock offset.
   */
  gossipDelayMs: number;
}

/**
 * What a tracker reports of its gossip, as it happens (plain callbacks, so the tracker knows
 * nothing of metrics). Counts are of entries, as carried: a delta's leaves travel as dots only.
 */
export interface TrackerObserver {
  deltaSent(entries: number): void;
  deltaReceived(entries: number): void;
  transferRequested(reason: TransferReason): void;
  /** A request answered: our state (restricted to the requester's replicas) sent. */
  transferSent(entries: number): void;
  /** A state received and merged. */
  transferReceived(entries: number): void;
  /** The end of each heartbeat tick, with the replica's figures then. */
  ticked(figures: ReplicaFigures): void;
}
