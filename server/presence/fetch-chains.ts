import type { PresenceDiff } from "./diff.js";
import type { FetchGate, FetchOutcome, PresenceFetch } from "./presence-fetch.js";

export interface FetchChainsOptions {
  gate: Pick<FetchGate, "enrichAll">;
  /** The topic's presence fetch, if its channel declares one. */
  fetchFor(topic: string): PresenceFetch | undefined;
  /** Diffs of one topic waiting behind its fetch at most (presenceFetchMaxWaiting); past it they go out raw. */
  maxWaiting: number;
  /** Where a diff goes once enriched (or not): the diff log and the fan-out. */
  deliver(topic: string, diff: PresenceDiff): void;
  /** Diffs that went out raw without a fetch (over maxWaiting, or the thread stopping). */
  outcome(outcome: FetchOutcome, count: number): void;
  /** Diffs held back by fetches changed by `delta` (the waiting gauge). */
  waiting(delta: number): void;
}

interface Chain {
  /** Diffs in order; the first is being fetched. */
  readonly diffs: PresenceDiff[];
  /** From this index on, the diffs go out raw, without a fetch (the chain was over maxWaiting). */
  rawFrom: number;
}

/**
 * Each topic's coalesced diffs, enriched by its channel's presence fetch one after the other:
 * a diff goes out (to the diff log and every subscriber, the same bytes for all) only after
 * the ones before it, so a topic's diffs stay in order, and a slow fetch delays its own topic's
 * diffs, never another's. A topic without a fetch, or with nothing waiting, delivers at once.
 *
 * Bound: at most `maxWaiting` diffs wait behind a topic's fetch. One more, and every diff
 * waiting behind the one being fetched goes out raw right after it (counted as skipped), so a
 * topic whose fetch cannot keep up sends raw entries rather than falling further behind.
 */
export class FetchChains {
  private readonly chains = new Map<string, Chain>();
  private stopped = false;

  constructor(private readonly options: FetchChainsOptions) {}

  /** A coalesced diff of `topic`, in order. */
  push(topic: string, diff: PresenceDiff): void {
    const chain = this.chains.get(topic);
    if (chain) {
      chain.diffs.push(diff);
      this.options.waiting(1);
      if (chain.diffs.length - 1 > this.options.maxWaiting && chain.rawFrom > 1) chain.rawFrom = 1;
      return;
    }
    const fetch = this.options.fetchFor(topic);
    if (!fetch) return this.options.deliver(topic, diff);
    if (this.stopped) {
      this.options.outcome("skipped", 1);
      return this.options.deliver(topic, diff);
    }
    this.chains.set(topic, { diffs: [diff], rawFrom: Infinity });
    this.options.waiting(1);
    this.next(topic, fetch);
  }

  /** The thread stops: what waits goes out raw now, in order; fetches that answer later are ignored. */
  stop(): void {
    this.stopped = true;
    for (const [topic, chain] of [...this.chains]) {
      this.chains.delete(topic);
      this.options.waiting(-chain.diffs.length);
      this.options.outcome("skipped", chain.diffs.length);
      for (const diff of chain.diffs) this.options.deliver(topic, diff);
    }
  }

  /** Fetches the chain's first diff; once it went out, the next. */
  private next(topic: string, fetch: PresenceFetch): void {
    const chain = this.chains.get(topic)!;
    const diff = chain.diffs[0];
    this.options.gate.enrichAll(fetch, topic, [diff.joins, diff.leaves]).then(([joins, leaves]) => {
      if (this.chains.get(topic) !== chain) return; // stopped meanwhile: it went out raw
      chain.diffs.shift();
      chain.rawFrom--;
      this.options.waiting(-1);
      this.options.deliver(topic, { joins, leaves });
      // Over the bound: what waited behind goes out raw, now, in order.
      let raw = 0;
      while (chain.diffs.length > 0 && chain.rawFrom <= 0) {
        this.options.deliver(topic, chain.diffs.shift()!);
        this.options.waiting(-1);
        chain.rawFrom--;
        raw++;
      }
      if (raw > 0) this.options.outcome("skipped", raw);
      if (chain.diffs.length === 0) this.chains.delete(topic);
      else this.next(topic, fetch);
    });
  }
}
