import { counter, gauge, type Registry } from "../ops/metrics.js";

/**
 * Presence's metrics: diffs, members catching up on a list (docs/presence.md, "Joining storms"), a
 * replica's first sync, its state and gossip (entries, peers, lag, deltas, transfers), and the
 * live-count topics (presence and counters both push them; presence stands lower).
 */
export function presenceMetrics(registry: Registry) {
  return {
    presenceDiffs: counter(registry, "cinder_presence_diffs_total", "presence_diff messages delivered to this thread's topics (one per topic per coalesced change)"),
    presenceDiffsMerged: counter(
      registry,
      "cinder_presence_diffs_merged_total",
      "Presence changes merged into a topic's pending presence_diff instead of going out on their own (presenceDiffCoalesceMs)",
    ),
    presenceDiffsWithheld: counter(registry, "cinder_presence_diffs_withheld_total", "presence_diff deliveries not made because the member waits for a presence_state that covers them"),
    presenceStateWaiting: gauge(
      registry,
      "cinder_presence_state_waiting",
      "Members catching up on a topic's list: just joined (or waiting for their replica's first sync), or fell behind (bounded by the members)",
    ),
    presenceStateBytesHeld: gauge(
      registry,
      "cinder_presence_state_bytes_held",
      "Bytes of list snapshots and diff logs held for members catching up (per room: its live snapshots, and a log of at most max(presenceResyncBytes, 4 lists))",
    ),
    presenceStateEncodings: counter(registry, "cinder_presence_state_encodings_total", "Snapshots taken of a topic's list for members catching up (each shared by every member started on it)"),
    presenceStatesSent: counter(
      registry,
      "cinder_presence_states_sent_total",
      "presence_state frames sent from shared snapshots: join (a member's first), resync (a fresh one after it fell behind)",
      ["reason"],
    ),
    presenceStateRestarts: counter(
      registry,
      "cinder_presence_state_restarts_total",
      "Members catching up that start again from a fresh snapshot: log (the room's diff log dropped diffs they needed), stalled (their client read nothing for 5 s and gave up its turn)",
      ["reason"],
    ),
    presenceFellBehind: counter(
      registry,
      "cinder_presence_fell_behind_total",
      "Members taken off presence_diff because they had more than presenceResyncBytes unread; each gets a fresh presence_state",
    ),
    presenceFirstSync: counter(
      registry,
      "cinder_presence_first_sync_total",
      "Starts of a presence replica (one per worker thread): complete (every live replica sent its state), timeout (presenceFirstSyncTimeoutMs passed first; its lists were served with what had come)",
      ["outcome"],
    ),
    presenceStateSyncWaits: counter(
      registry,
      "cinder_presence_state_sync_waits_total",
      "presence_state requests that waited for their replica's first sync (at most presenceFirstSyncTimeoutMs after its start)",
    ),
    presenceFetches: counter(
      registry,
      "cinder_presence_fetches_total",
      "Presence fetches (a channel's presenceFetch) of a list snapshot or a coalesced diff: ok (enriched), timeout and failed (the raw entries went out), skipped (diffs sent raw without a fetch: over presenceFetchMaxWaiting, or the thread stopping)",
      ["outcome"],
    ),
    presenceFetchWaiting: gauge(
      registry,
      "cinder_presence_fetch_waiting",
      "Presence diffs and list snapshots waiting for a presence fetch (being fetched, waiting for a slot, or behind their topic's fetch in order)",
    ),
    presenceEntries: gauge(registry, "cinder_presence_entries", "Entries (members, every topic) in this thread's presence replica, as of its last heartbeat tick (those of down replicas, hidden, left out)"),
    presenceReplicas: gauge(
      registry,
      "cinder_presence_replicas",
      "Other presence replicas this thread's replica knows: up (heard from within presenceDownPeriod), down (silent longer; their members hidden until they speak or are purged)",
      ["state"],
    ),
    presenceReplicaLag: gauge(
      registry,
      "cinder_presence_replica_lag",
      "Presence changes (dots) the replicas up have announced in their latest heartbeats and this replica has not received, as of its last heartbeat tick",
    ),
    presenceGossipDelay: gauge(
      registry,
      "cinder_presence_gossip_delay_seconds",
      "The longest a presence heartbeat read in the replica's last tick had been on its way from its sender (0 when none was read): how late this thread reads its gossip; a node shows its latest thread",
      [],
      "max",
    ),
    presenceDeltas: counter(registry, "cinder_presence_deltas_total", "Heartbeats carrying a presence delta: sent (one per tick with local changes, to every replica), received", ["direction"]),
    presenceDeltaEntries: counter(registry, "cinder_presence_delta_entries_total", "Entries carried by presence deltas (joins and updates; leaves travel as dots): sent, received", ["direction"]),
    presenceTransferRequests: counter(
      registry,
      "cinder_presence_transfer_requests_total",
      "Requests for a replica's state: behind (its clock had changes ours lacked), gap (one of its deltas went missing), start (its own entries, at a start or when first seen)",
      ["reason"],
    ),
    presenceTransfers: counter(registry, "cinder_presence_transfers_total", "Presence state transfers: sent (a request answered with our state), received (a state merged)", ["direction"]),
    presenceTransferEntries: counter(registry, "cinder_presence_transfer_entries_total", "Entries carried by presence state transfers: sent, received", ["direction"]),
    countTopics: gauge(registry, "cinder_count_topics", "Topics whose live counts this thread pushes: counter (counter:<key> topics) and presence (presence_count subscribers)", ["kind"]),
  };
}

export type PresenceMetrics = ReturnType<typeof presenceMetrics>;
