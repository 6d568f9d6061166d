import type { SocketConnection } from "./connection.js";

const SWEEP_MS = 1000;

/**
 * Slow-consumer policy. uWS keeps at most twice `limit` bytes queued per socket and drops what
 * would go past that, which bounds memory; this sweep closes (1013, "slow consumer") every
 * socket that sits above `limit`, so a client that fell behind reconnects and resyncs instead
 * of silently missing messages. A socket whose direct send was dropped is closed at once.
 * Every socket's bytes are reported to `seen` (the node-wide cap, node-buffer-cap.ts).
 */
export function watchSlowConsumers(
  connections: ReadonlySet<SocketConnection>,
  limit: number,
  seen: (connection: SocketConnection, bytes: number) => void,
): () => void {
  const timer = setInterval(() => {
    for (const connection of connections) {
      const ws = connection.ws;
      if (!ws) continue;
      const bytes = ws.getBufferedAmount();
      if (bytes > limit) connection.closeSlow();
      // The node-wide cap learns here of sockets that fell behind on broadcasts (uWS publishes
      // to topics without telling us which sockets it had to buffer for).
      else seen(connection, bytes);
    }
  }, SWEEP_MS);
  timer.unref();
  return () => clearInterval(timer);
}
