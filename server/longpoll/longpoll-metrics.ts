import { counter, gauge, type Registry } from "../ops/metrics.js";

/**
 * The LongPoll transport's metrics (docs/longpoll.md): sessions, requests, relays to a session's
 * owner, and sessions ended.
 */
export function longPollMetrics(registry: Registry) {
  return {
    longPollSessions: gauge(registry, "cinder_longpoll_sessions", "Open LongPoll sessions owned by this thread"),
    longPollRequests: counter(
      registry,
      "cinder_longpoll_requests_total",
      "LongPoll requests answered by this thread, by method and the status in the body (410: a handshake or a session gone); a relayed request counts on the thread the client reached and on its owner",
      ["method", "status"],
    ),
    longPollRelayed: counter(
      registry,
      "cinder_longpoll_relayed_total",
      "LongPoll requests this thread received for a session another thread or node owns: answered (by the owner), unanswered (the owner could not be reached or did not answer in time), refused (longPollMaxRelays in flight); the last two answer 410",
      ["outcome"],
    ),
    longPollRelaysInFlight: gauge(registry, "cinder_longpoll_relays_in_flight", "LongPoll requests this thread relayed and still waits on (at most longPollMaxRelays)"),
    longPollOverflows: counter(registry, "cinder_longpoll_overflows_total", "LongPoll sessions ended because their buffer between polls went over longPollMaxBufferedBytes"),
    longPollTimeouts: counter(registry, "cinder_longpoll_timeouts_total", "LongPoll sessions ended because no poll came for 1.5 windows"),
    longPollBinarySkipped: counter(registry, "cinder_longpoll_binary_skipped_total", "Binary frames (byte payloads) not sent to LongPoll sessions, which receive JSON text only"),
  };
}

export type LongPollMetrics = ReturnType<typeof longPollMetrics>;
