/**
 * MurmurHash64A (Austin Appleby), the hash Redis's HyperLogLog applies to every element, with
 * Redis's seed. Kept bit-for-bit identical so that the in-memory estimator and Redis's PFCOUNT
 * put each actor in the same register with the same rank.
 */
const M = 0xc6a4a7935bd1e995n;
const R = 47n;
const MASK = 0xffffffffffffffffn;
export const REDIS_HLL_SEED = 0xadc83b19n;

export function murmur64a(bytes: Uint8Array, seed: bigint = REDIS_HLL_SEED): bigint {
  const length = bytes.length;
  let h = (seed ^ ((BigInt(length) * M) & MASK)) & MASK;
  const whole = length - (length & 7);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < whole; i += 8) {
    let k = view.getBigUint64(i, true);
    k = (k * M) & MASK;
    k ^= k >> R;
    k = (k * M) & MASK;
    h ^= k;
    h = (h * M) & MASK;
  }
  const rest = length & 7;
  if (rest > 0) {
    for (let i = rest - 1; i >= 0; i--) h ^= BigInt(bytes[whole + i]) << BigInt(8 * i);
    h = (h * M) & MASK;
  }
  h ^= h >> R;
  h = (h * M) & MASK;
  h ^= h >> R;
  return h;
}
