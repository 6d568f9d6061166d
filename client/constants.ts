/** Protocol constants shared by Socket, Channel and Push (the values phoenix.js uses). */
export const DEFAULT_VSN = "2.0.0";
export const DEFAULT_TIMEOUT = 10000;
export const WS_CLOSE_NORMAL = 1000;
export const AUTH_TOKEN_PREFIX = "base64url.bearer.phx.";

/** `WebSocket.readyState` values. */
export const SOCKET_STATES = { connecting: 0, open: 1, closing: 2, closed: 3 } as const;

export const CHANNEL_STATES = {
  closed: "closed",
  errored: "errored",
  joined: "joined",
  joining: "joining",
  leaving: "leaving",
} as const;

export type ChannelState = (typeof CHANNEL_STATES)[keyof typeof CHANNEL_STATES];

export const CHANNEL_EVENTS = {
  close: "phx_close",
  error: "phx_error",
  join: "phx_join",
  reply: "phx_reply",
  leave: "phx_leave",
} as const;

/** Delays between reconnect attempts (ms), then 5 s for every further try. */
export function defaultReconnectAfterMs(tries: number): number {
  return [10, 50, 100, 150, 200, 250, 500, 1000, 2000][tries - 1] || 5000;
}

/** Delays between rejoin attempts of a channel (ms), then 10 s for every further try. */
export function defaultRejoinAfterMs(tries: number): number {
  return [1000, 2000, 5000][tries - 1] || 10000;
}
