import { emptyPresenceMap, type PresenceMap } from "./diff.js";

/**
 * A channel's presence fetch (Phoenix.Presence's `fetch/2`): given a topic and presences as
 * `{key: {metas}}`, returns them with fields added beside `metas` (a user's name from a
 * database, say). Called once per `presence_state` snapshot and once per side (joins, leaves)
 * of each coalesced `presence_diff`, never per subscriber. `signal` aborts when the fetch's time
 * is up (presenceFetchTimeoutMs): the raw entries have gone out by then.
 */
export type PresenceFetch = (topic: string, presences: PresenceMap, context: { signal: AbortSignal }) => FetchedPresences | Promise<FetchedPresences>;

/** What a presence fetch answers: per key, the fields to send beside its metas (the metas sent are always the tracked ones). */
export type FetchedPresences = Record<string, Record<string, unknown>>;

/** Which topics' presences are fetched, and by what: the channels' declarations (ChannelRouter). */
export interface PresenceFetchDeclarations {
  /** The presence fetch of the channel that serves `topic`, if it declares one. */
  presenceFetchOf(topic: string): PresenceFetch | undefined;
}

/** How a fetch ended: ok (enriched), timeout or failed (raw entries went out), skipped (over presenceFetchMaxWaiting: raw, not fetched). */
export type FetchOutcome = "ok" | "timeout" | "failed" | "skipped";

export interface FetchGateOptions {
  /** Fetches running at once on this thread (presenceFetchConcurrency); the others wait for a slot, in order. */
  concurrency: number;
  /** The longest presences wait for their fetch, slot included (presenceFetchTimeoutMs). */
  timeoutMs: number;
  /** Counts each fetch's outcome. */
  outcome(outcome: FetchOutcome): void;
  /** A fetch threw or rejected (logged by the caller). */
  failed(err: unknown, topic: string): void;
}

/**
 * A thread's presence fetches: at most `concurrency` running at once, each given `timeoutMs`
 * from when it was asked for (waiting for a slot included), and never failing: a fetch that
 * throws, rejects, answers something that is not an object, or runs out of time yields the raw
 * presences. A fetch that outlives its time stops counting against the limit (its `signal`
 * aborts, and its answer is ignored), so one that never settles cannot hold a slot forever.
 */
export class FetchGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly options: FetchGateOptions) {}

  /** `presences` enriched by `fetch`, or as they are when the fetch fails or times out. */
  enrich(fetch: PresenceFetch, topic: string, presences: PresenceMap): Promise<PresenceMap> {
    return this.enrichAll(fetch, topic, [presences]).then(([enriched]) => enriched);
  }

  /**
   * Several maps of one topic under one slot and one timeout (a diff's joins and leaves): one
   * fetch call per non-empty map. All enriched, or all raw.
   */
  enrichAll(fetch: PresenceFetch, topic: string, maps: readonly PresenceMap[]): Promise<PresenceMap[]> {
    const { timeoutMs } = this.options;
    return new Promise((resolve) => {
      // Made when a fetch first reads its signal: most never do, and a controller is not free.
      let controller: AbortController | undefined;
      const context = {
        get signal(): AbortSignal {
          controller ??= new AbortController();
          return controller.signal;
        },
      };
      let settled = false;
      let holdsSlot = false;
      const finish = (outcome: FetchOutcome, result: PresenceMap[]): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (holdsSlot) this.release();
        else this.dropWaiting(start);
        this.options.outcome(outcome);
        resolve(result);
      };
      const timer = setTimeout(() => {
        controller?.abort();
        finish("timeout", [...maps]);
      }, timeoutMs);
      const start = (): void => {
        if (settled) return this.release();
        holdsSlot = true;
        let calls: Array<Promise<unknown>>;
        try {
          calls = maps.map((map) => (isEmpty(map) ? Promise.resolve(map) : Promise.resolve(fetch(topic, map, context))));
        } catch (err) {
          this.options.failed(err, topic);
          return finish("failed", [...maps]);
        }
        Promise.all(calls).then(
          (answers) => {
            if (settled) return; // timed out: the raw entries went out
            const merged = answers.map((answer, i) => mergeEnriched(maps[i], answer));
            if (merged.some((map) => map === null)) {
              this.options.failed(new TypeError("presence fetch must answer an object of {key: {field: value, ...}}"), topic);
              finish("failed", [...maps]);
            } else finish("ok", merged as PresenceMap[]);
          },
          (err: unknown) => {
            if (settled) return;
            this.options.failed(err, topic);
            finish("failed", [...maps]);
          },
        );
      };
      this.acquire(start);
    });
  }

  /** Fetches running, and waiting for a slot. */
  get pending(): number {
    return this.running + this.waiting.length;
  }

  private acquire(start: () => void): void {
    if (this.running < this.options.concurrency) {
      this.running++;
      start();
    } else this.waiting.push(start);
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  /** A fetch that timed out before it had a slot leaves the line. */
  private dropWaiting(start: () => void): void {
    const index = this.waiting.indexOf(start);
    if (index >= 0) this.waiting.splice(index, 1);
  }
}

/**
 * The raw presences with the fetch's fields beside their metas, keys in the raw order. The
 * metas always go out as tracked (their `phx_ref`s are what clients match joins and leaves
 * by), and a key the answer lacks goes out raw. Null when the answer is not an object.
 */
export function mergeEnriched(raw: PresenceMap, answer: unknown): PresenceMap | null {
  if (raw === answer) return raw;
  if (typeof answer !== "object" || answer === null || Array.isArray(answer)) return null;
  const fields = answer as Record<string, unknown>;
  const merged = emptyPresenceMap();
  for (const key in raw) {
    const entry = Object.hasOwn(fields, key) ? fields[key] : undefined;
    merged[key] = typeof entry === "object" && entry !== null && !Array.isArray(entry) ? { ...(entry as object), metas: raw[key].metas } : raw[key];
  }
  return merged;
}

function isEmpty(map: PresenceMap): boolean {
  for (const _ in map) return false;
  return true;
}
