/** What the failover benchmark's client processes (bench/native/failover/failover.c) and its publisher report. */

export type Phase = "before" | "during" | "after";
export const PHASES: readonly Phase[] = ["before", "during", "after"];

/** A client process's counters, every 200 ms. */
export interface ClientsStatus {
  joined: number;
  /** Clients whose socket closed at least once, and those of them joined again now. */
  moved: number;
  movedJoined: number;
  /** Upgrades refused with HTTP 503 (saturated), other refusals and failures, handshakes that timed out. */
  refused503: number;
  failed: number;
  handshakeTimeouts: number;
  joinTimeouts: number;
  /** When the latest join was answered ok (epoch ms). */
  lastJoinedAt: number;
}

/** A client process's checks once every client has its room's last offset (or the time is up). */
export interface ClientsFinal {
  missing: number;
  duplicated: number;
  notRecovered: number;
  recovered: number;
  replayed: number;
  epochChanges: number;
  /** Messages short of the room's last offset once the run ended (included in missing). */
  tailMissing: number;
  moved: number;
  /** Latencies (whole ms) as [ms, count] pairs, of clients that never lost their socket and of those that did. */
  histograms: Record<Phase, { stayed: Array<[number, number]>; moved: Array<[number, number]> }>;
}

export interface PublisherStatus {
  type: "published";
  sent: number;
  ok: number;
  errors: number;
  timeouts: number;
}

/** A room's last offset and epoch (in Redis) at the end. */
export interface RoomTop {
  o: number;
  e: string;
}
