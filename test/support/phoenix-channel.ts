import { Socket, type Channel } from "phoenix";
import WebSocket from "ws";

/** The official phoenix.js client over a WebSocket (the `ws` package) to a local server, connected, retrying fast. */
export function phoenixWebSocket(port: number, params: Record<string, string> = {}, timeout = 5000): Socket {
  const socket = new Socket(`ws://127.0.0.1:${port}/socket`, {
    transport: WebSocket as unknown as typeof globalThis.WebSocket,
    params,
    reconnectAfterMs: () => 50,
    rejoinAfterMs: () => 50,
    timeout,
  });
  socket.connect();
  return socket;
}

/**
 * Holds `socket`'s reconnects off (for an hour) until the test reconnects it itself. Setting
 * `reconnectAfterMs` on a live socket changes nothing: phoenix.js reads it once, into its
 * reconnect timer, which is what this sets.
 */
export function holdReconnects(socket: Socket): void {
  (socket as unknown as { reconnectTimer: { timerCalc: () => number } }).reconnectTimer.timerCalc = () => 3_600_000;
}

/** Helpers around phoenix.js channels: a join, a push and its reply, and what a channel receives, as promises and lists. */

export function joined(channel: Channel): Promise<unknown> {
  return new Promise((resolve, reject) => {
    channel.join().receive("ok", resolve).receive("error", reject).receive("timeout", () => reject(new Error("join timeout")));
  });
}

export function pushed(channel: Channel, event: string, payload: object | ArrayBuffer): Promise<{ status: string; response: unknown }> {
  return new Promise((resolve) => {
    const push = channel.push(event, payload as object);
    for (const status of ["ok", "error", "timeout"] as const) push.receive(status, (response: unknown) => resolve({ status, response }));
  });
}

/** Every `event` the channel receives, in order. */
export function collect<T = unknown>(channel: Channel, event: string): T[] {
  const seen: T[] = [];
  channel.on(event, (payload: T) => void seen.push(payload));
  return seen;
}
