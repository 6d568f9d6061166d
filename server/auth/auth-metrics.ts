import { counter, gauge, type Registry } from "../ops/metrics.js";

/**
 * Force-disconnect's metrics (docs/security.md): the index of socket ids, and the sockets it
 * closed.
 */
export function authMetrics(registry: Registry) {
  return {
    socketIds: gauge(
      registry,
      "cinder_socket_ids",
      "Distinct socket ids (from the connect hook or the token's sub) of this thread's open sockets, the index force-disconnects use (bounded by the sockets)",
    ),
    forcedDisconnects: counter(registry, "cinder_forced_disconnects_total", "Sockets closed by server.disconnect(id) or POST /api/disconnect"),
  };
}

export type AuthMetrics = ReturnType<typeof authMetrics>;
