/**
 * A sliding window: `buckets` buckets of `bucketMs` each. Buckets are numbered absolutely
 * (floor(time / bucketMs)), so every node puts an increment made at the same moment in the
 * same bucket, and a bucket's number is also its field in Redis. A read sums the current
 * bucket and the ones before it: it covers between (buckets − 1) and `buckets` whole bucket
 * lengths of time, so the only error is at the window's far edge, at most the oldest bucket's
 * count.
 */
export interface CounterWindow {
  bucketMs: number;
  buckets: number;
}

/** 6 hours in 5-minute buckets. */
export const DEFAULT_WINDOW: CounterWindow = { bucketMs: 5 * 60_000, buckets: 72 };

/** Bounds that keep one counter's memory and one read's work small. */
export const MAX_BUCKETS = 1440;
export const MIN_BUCKET_MS = 1000;
export const MAX_KEY_LENGTH = 256;
/** The largest single increment: anything above is a bug in the caller, not activity. */
export const MAX_INCREMENT = 1_000_000;
export const MAX_ACTOR_LENGTH = 256;

export class CounterError extends TypeError {
  override readonly name = "CounterError";
}

export function windowMs(window: CounterWindow): number {
  return window.bucketMs * window.buckets;
}

export function bucketAt(window: CounterWindow, now: number): number {
  return Math.floor(now / window.bucketMs);
}

/** The buckets a read of the last `spanMs` covers (the whole window when not given). */
export function bucketsOf(window: CounterWindow, now: number, spanMs?: number): { from: number; to: number } {
  const to = bucketAt(window, now);
  const count = spanMs === undefined ? window.buckets : Math.ceil(spanMs / window.bucketMs);
  return { from: to - count + 1, to };
}

export function checkKey(key: unknown): string {
  if (typeof key !== "string" || key.length === 0) throw new CounterError(`a counter key must be a non-empty string, got ${describe(key)}`);
  if (key.length > MAX_KEY_LENGTH) throw new CounterError(`a counter key must be at most ${MAX_KEY_LENGTH} characters, got ${key.length}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new CounterError(`a counter key must not contain control characters: ${JSON.stringify(key)}`);
  return key;
}

export function checkIncrement(by: unknown): number {
  if (typeof by !== "number" || !Number.isFinite(by)) throw new CounterError(`an increment must be a finite number, got ${describe(by)}`);
  if (!Number.isInteger(by)) throw new CounterError(`an increment must be a whole number, got ${by}`);
  if (by < 0) throw new CounterError(`an increment must not be negative (counters only count up; the window forgets), got ${by}`);
  if (by > MAX_INCREMENT) throw new CounterError(`an increment must be at most ${MAX_INCREMENT}, got ${by}`);
  return by;
}

export function checkActor(actor: unknown): string {
  if (typeof actor === "number" && Number.isSafeInteger(actor)) return String(actor);
  if (typeof actor !== "string" || actor.length === 0) throw new CounterError(`an actor id must be a non-empty string or an integer, got ${describe(actor)}`);
  if (actor.length > MAX_ACTOR_LENGTH) throw new CounterError(`an actor id must be at most ${MAX_ACTOR_LENGTH} characters, got ${actor.length}`);
  return actor;
}

/** A read's span: a positive number of ms, no longer than the key's window. */
export function checkSpan(spanMs: unknown, window: CounterWindow, key: string): number | undefined {
  if (spanMs === undefined) return undefined;
  if (typeof spanMs !== "number" || !Number.isFinite(spanMs) || spanMs <= 0) {
    throw new CounterError(`window must be a positive number of milliseconds, got ${describe(spanMs)}`);
  }
  if (spanMs > windowMs(window)) throw new CounterError(`window ${spanMs} ms is longer than the ${windowMs(window)} ms that ${JSON.stringify(key)} keeps`);
  return spanMs;
}

/** A window setting: `windowMs` split into buckets of `bucketMs`. */
export function checkWindow(pattern: string, windowLength: unknown, bucketMs: unknown): CounterWindow {
  const what = `counter window for ${JSON.stringify(pattern)}`;
  if (typeof bucketMs !== "number" || !Number.isInteger(bucketMs) || bucketMs < MIN_BUCKET_MS) {
    throw new CounterError(`${what}: bucket must be a whole number of ms, at least ${MIN_BUCKET_MS}, got ${describe(bucketMs)}`);
  }
  if (typeof windowLength !== "number" || !Number.isInteger(windowLength) || windowLength <= 0 || windowLength % bucketMs !== 0) {
    throw new CounterError(`${what}: window must be a positive multiple of the bucket (${bucketMs} ms), got ${describe(windowLength)}`);
  }
  const buckets = windowLength / bucketMs;
  if (buckets > MAX_BUCKETS) throw new CounterError(`${what}: at most ${MAX_BUCKETS} buckets, got ${buckets}`);
  return { bucketMs, buckets };
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) return String(value);
  return typeof value;
}
