import type { Channel } from "phoenix";

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
