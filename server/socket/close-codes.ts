/**
 * Close codes Cinder uses. phoenix.js reconnects after any close that is not clean with 1000,
 * so every server-initiated close uses a non-1000 code.
 */
export const CLOSE = {
  /** Server shutting down or restarting (phoenix.js reconnects). */
  goingAway: 1001,
  /** A frame that cannot be decoded (not JSON, wrong shape, bad binary header). */
  invalidFrame: 1007,
  /** A client that kept sending past its frame rate limit (maxFramesPerSecond) for 5 s, or past its inbound byte budget (maxInboundBytesPerSecond). */
  policy: 1008,
  /** A frame over maxPayloadLength (uWS closes with this). */
  tooBig: 1009,
  /** The socket fell too far behind (slow consumer): it reconnects and rejoins. */
  slowConsumer: 1013,
  /** The token expired and no fresh one came in-band (docs/security.md). */
  tokenExpired: 4401,
  /** Closed by `server.disconnect(id)` / `POST /api/disconnect`. */
  disconnected: 4403,
  /** Server draining for a restart (Phoenix uses 1012). */
  restart: 1012,
} as const;
