import { TokenBucket } from "./rate-limit.js";

/**
 * The decoding one socket may cost its thread (maxInboundBytesPerSecond): a token bucket of
 * `rate` bytes a second, from which a frame takes its bytes, then the decode cost its
 * pre-decode scan weighed (pubsub/payload-depth.ts: 16 bytes a value, more for the members of
 * large objects), both before it is decoded. It holds max(rate, maxPayloadLength), so one frame
 * of maxPayloadLength bytes of plain text passes on a socket that sent nothing before, and a
 * frame that costs more than that never passes.
 */
export class InboundBudget {
  private readonly bucket: TokenBucket;

  constructor(
    readonly rate: number,
    maxPayloadLength: number,
    now = Date.now(),
  ) {
    this.bucket = new TokenBucket(rate, now, Math.max(rate, maxPayloadLength));
  }

  /** A frame of `bytes` arrived: false when the budget does not cover them. */
  takeBytes(bytes: number, now: number): boolean {
    return this.bucket.take(now, bytes);
  }

  /** The decode cost the budget still covers: the frame's scan stops past it. */
  left(now: number): number {
    return this.bucket.available(now);
  }

  /** The scan weighed the frame's decode cost at `cost` (never more than left()). */
  takeDecodeCost(cost: number, now: number): void {
    this.bucket.take(now, cost);
  }
}
