import type { SocketConnection } from "./connection.js";

const SWEEP_MS = 1000;

/**
 * Slow-consumer policy. uWS keeps at most twice `limit` bytes queued per socket and drops what
 * would go past that, which bounds memory; this sweep closes (1013, "slow consumer") every
 * socket that sits above `limit`, so a client that fell behind reconnects and resyncs instead
 * of silently missing messages. A socket whose direct send was dropped is closed at once.
 */
export function watchSlowConsumers(connections: ReadonlySet<SocketConnection>, limit: number): () => void {
  const timer = setInterval(() => {
    for (const connection of connections) {
      const ws = connection.ws;
      if (ws && ws.getBufferedAmount() > limit) connection.closeSlow();
    }
  }, SWEEP_MS);
  timer.unref();
  return () => clearInterval(timer);
}
