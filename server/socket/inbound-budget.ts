/**
 * The decoding one socket may cost its thread (maxInboundBytesPerSecond): a token bucket of
 * `rate` bytes a second (socket-budget.ts), from which a frame takes its bytes, then the decode
 * cost its pre-decode scan weighed (pubsub/payload-depth.ts: 16 bytes a value, more for the
 * members of large objects), both before it is decoded. It holds max(rate, maxPayloadLength), so
 * one frame of maxPayloadLength bytes of plain text passes on a socket that sent nothing before,
 * and a frame that costs more than that never passes.
 */
export function inboundBurst(limits: { readonly maxInboundBytesPerSecond: number; readonly maxPayloadLength: number }): number {
  return Math.max(limits.maxInboundBytesPerSecond, limits.maxPayloadLength);
}
