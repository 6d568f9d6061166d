import { murmur64a } from "./murmur64a.js";

/**
 * A HyperLogLog that is Redis's own, register for register: 2^14 registers of 6 bits,
 * MurmurHash64A with Redis's seed, and the estimator of Redis 5 and later (Ertl's improved
 * raw estimator, no bias tables). It is written here rather than taken from a library on
 * purpose: a single node counts distinct actors in memory and a cluster counts them with
 * PFADD/PFCOUNT, and both must report the same number for the same actors. The HyperLogLogs
 * on npm (bloom-filters and the like) use other hashes, other register counts and the
 * original estimator with its small-range correction, so their figures differ from Redis's.
 * Standard error: 1.04 / sqrt(16384) = 0.81 %.
 *
 * Memory: sparse (a Map of the registers set so far) until SPARSE_LIMIT registers, then
 * dense (16 KiB, one byte per register).
 */
export const HLL_P = 14;
export const HLL_REGISTERS = 1 << HLL_P;
/** Bits of the hash left after the register index: the rank is at most Q + 1. */
const HLL_Q = 64 - HLL_P;
const SPARSE_LIMIT = 2048;
const ALPHA_INF = 0.721347520444481703680;
const INDEX_MASK = BigInt(HLL_REGISTERS - 1);
const encoder = new TextEncoder();

export class HyperLogLog {
  private sparse: Map<number, number> | null = new Map();
  private dense: Uint8Array | null = null;

  /** Adds an element; true when a register changed (the estimate may have moved). */
  add(element: string): boolean {
    const hash = murmur64a(encoder.encode(element));
    const index = Number(hash & INDEX_MASK);
    const rank = rankOf(hash >> BigInt(HLL_P));
    return this.set(index, rank);
  }

  /** Folds another estimator in: afterwards this one estimates the union. */
  merge(other: HyperLogLog): void {
    other.forEachRegister((index, rank) => void this.set(index, rank));
  }

  /** The estimated number of distinct elements added. */
  count(): number {
    return estimate(this.histogram());
  }

  /** Bytes held, roughly (for memory figures). */
  get bytes(): number {
    return this.dense ? HLL_REGISTERS : (this.sparse as Map<number, number>).size * 20;
  }

  /** The estimate of the union of several estimators, without building it. */
  static countUnion(estimators: readonly HyperLogLog[]): number {
    if (estimators.length === 1) return estimators[0].count();
    const union = new HyperLogLog();
    for (const estimator of estimators) union.merge(estimator);
    return union.count();
  }

  private set(index: number, rank: number): boolean {
    const sparse = this.sparse;
    if (sparse) {
      if ((sparse.get(index) ?? 0) >= rank) return false;
      sparse.set(index, rank);
      if (sparse.size > SPARSE_LIMIT) this.densify(sparse);
      return true;
    }
    const dense = this.dense as Uint8Array;
    if (dense[index] >= rank) return false;
    dense[index] = rank;
    return true;
  }

  private densify(sparse: Map<number, number>): void {
    const dense = new Uint8Array(HLL_REGISTERS);
    for (const [index, rank] of sparse) dense[index] = rank;
    this.dense = dense;
    this.sparse = null;
  }

  private forEachRegister(visit: (index: number, rank: number) => void): void {
    if (this.sparse) for (const [index, rank] of this.sparse) visit(index, rank);
    else (this.dense as Uint8Array).forEach((rank, index) => rank > 0 && visit(index, rank));
  }

  private histogram(): number[] {
    const histogram = new Array<number>(HLL_Q + 2).fill(0);
    if (this.sparse) {
      histogram[0] = HLL_REGISTERS - this.sparse.size;
      for (const rank of this.sparse.values()) histogram[rank]++;
    } else {
      for (const rank of this.dense as Uint8Array) histogram[rank]++;
    }
    return histogram;
  }
}

/** Position of the lowest set bit, counting from 1, with bit Q forced on (as Redis's hllPatLen). */
function rankOf(rest: bigint): number {
  let bits = rest | (1n << BigInt(HLL_Q));
  let rank = 1;
  // The low 32 bits first, as a number: the common case ends there.
  const low = Number(bits & 0xffffffffn);
  if (low !== 0) return 32 - Math.clz32(low & -low);
  bits >>= 32n;
  rank += 32;
  while ((bits & 1n) === 0n) {
    bits >>= 1n;
    rank++;
  }
  return rank;
}

/** Redis's hllCount for a register histogram (Ertl, "New cardinality estimation algorithms for HyperLogLog sketches", 2017). */
function estimate(histogram: number[]): number {
  const m = HLL_REGISTERS;
  let z = m * tau((m - histogram[HLL_Q + 1]) / m);
  for (let j = HLL_Q; j >= 1; j--) {
    z += histogram[j];
    z *= 0.5;
  }
  z += m * sigma(histogram[0] / m);
  return Math.round((ALPHA_INF * m * m) / z);
}

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let y = 1;
  let z = x;
  let previous: number;
  do {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  } while (previous !== z);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let previous: number;
  do {
    x = Math.sqrt(x);
    previous = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
  } while (previous !== z);
  return z / 3;
}
