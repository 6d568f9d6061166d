export { PresenceService } from "./presence-service.js";
export type {
  PresenceServiceOptions,
  TrackResult,
  UpdateMetaResult,
  DiffListener,
  Meta,
  PresenceDiff,
  PresenceMap,
} from "./presence-service.js";
export { Tracker, DEFAULT_TIMINGS } from "./tracker.js";
export type { TrackerOptions, TrackerTimings } from "./tracker.js";
export type { GossipLane } from "./gossip-lane.js";
export type { TrackerObserver, ReplicaFigures, TransferReason } from "./tracker-observer.js";
export { parseGossipMessage } from "./messages.js";
export type {
  GossipMessage,
  HeartbeatMessage,
  TransferRequestMessage,
  TransferAckMessage,
  GracefulPermdownMessage,
} from "./messages.js";
export { phxRefOf } from "./phx-ref.js";
export { DiffCoalescer, foldDiff, presenceMapOf, diffsByTopic } from "./diff.js";
export type { ReplicaStatus, ReplicaInfo } from "./replica-table.js";
