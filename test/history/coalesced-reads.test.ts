import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CoalescedReads } from "../../server/history/coalesced-reads.js";
import { MemoryFrameStore } from "../../server/history/frame-store-memory.js";
import type { HistoryLimits, HistoryPage } from "../../server/history/history.js";

// The store behind the reads is a real one (the in-memory frame store, with its dense offsets and
// its oldest entries dropped past `size`); the reads are counted on their way to it.

const TOPIC = "room:1";

function storeWith(count: number, size: number): { store: MemoryFrameStore; limits: HistoryLimits } {
  const store = new MemoryFrameStore({ maxBytes: 64 * 1024 * 1024 });
  const limits = { size, ttlMs: 60_000 };
  for (let n = 1; n <= count; n++) store.append({ topic: TOPIC, event: "msg", payload: JSON.stringify({ n }), limits });
  return { store, limits };
}

interface Counted {
  reads: CoalescedReads;
  sent: Array<{ since: number; limit: number }>;
  asked: () => number;
  /** Holds the store's answers until `release` (a read in flight, for as long as the test wants). */
  release: () => void;
}

function counted(store: MemoryFrameStore, maxPerRead = 1000, held = false): Counted {
  const sent: Array<{ since: number; limit: number }> = [];
  let asked = 0;
  const holding: Array<() => void> = [];
  let open = !held;
  const reads = new CoalescedReads({
    read: async (topic, since, limit, limits) => {
      sent.push({ since, limit });
      const page = store.read(topic, since, limit, limits);
      if (!open) await new Promise<void>((resolve) => holding.push(resolve));
      return page;
    },
    maxPerRead,
    onAsked: () => asked++,
    onSent: () => undefined,
  });
  return {
    reads,
    sent,
    asked: () => asked,
    release: () => {
      open = true;
      for (const resolve of holding.splice(0)) resolve();
    },
  };
}

/** Reads asked for in one turn, as joins arriving together ask. */
function readAll(reads: CoalescedReads, limits: HistoryLimits, asks: Array<{ since: number; limit: number }>): Promise<HistoryPage[]> {
  return Promise.all(asks.map(({ since, limit }) => reads.read(TOPIC, since, limit, limits)));
}

describe("coalesced history reads", () => {
  it("N rejoins of one topic in one turn: one store read, each served exactly what a read of its own gives", async () => {
    const { store, limits } = storeWith(50, 100);
    const { reads, sent, asked } = counted(store);
    const asks = [
      { since: 0, limit: 300 },
      { since: 10, limit: 300 },
      { since: 49, limit: 300 },
      { since: 50, limit: 300 }, // nothing missed
      { since: 70, limit: 300 }, // ahead of the topic
      { since: 5, limit: 3 }, // a short page
      { since: Number.MAX_SAFE_INTEGER, limit: 0 }, // a fresh join: the epoch and top only
    ];
    const pages = await readAll(reads, limits, asks);
    expect(sent).toEqual([{ since: 0, limit: 70 + 300 }]); // from the lowest since to the furthest reader's since + limit
    expect(asked()).toBe(asks.length);
    for (const [i, { since, limit }] of asks.entries()) expect(pages[i]).toEqual(store.read(TOPIC, since, limit, limits));
    expect(pages[2].entries.map((e) => e.offset)).toEqual([50]);
    expect(pages[4].entries).toEqual([]);
    expect(pages[5].entries.map((e) => e.offset)).toEqual([6, 7, 8]);
    expect(reads.pendingTopics).toBe(0);
  });

  it("a stream that dropped its oldest entries: a reader from before them gets what a read of its own gets", async () => {
    const { store, limits } = storeWith(50, 20); // keeps 31..50
    const { reads, sent } = counted(store);
    const asks = [
      { since: 10, limit: 5 },
      { since: 29, limit: 300 },
      { since: 35, limit: 10 },
      { since: 45, limit: 2 },
    ];
    const pages = await readAll(reads, limits, asks);
    expect(sent.length).toBe(1);
    for (const [i, { since, limit }] of asks.entries()) expect(pages[i]).toEqual(store.read(TOPIC, since, limit, limits));
    expect(pages[0].entries.map((e) => e.offset)).toEqual([31, 32, 33, 34, 35]);
  });

  it("reads asked for while one is in flight ride on it when its page holds them; the others gather behind it and share the next", async () => {
    const { store, limits } = storeWith(30, 100);
    const { reads, sent, release } = counted(store, 1000, true);
    const first = reads.read(TOPIC, 20, 300, limits);
    // The first read is sent in the next turn and held there.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(sent.length).toBe(1);
    const later = readAll(reads, limits, [
      { since: 25, limit: 300 }, // rides on the first
      { since: 2, limit: 300 }, // starts before it: the next read
      { since: 28, limit: 1 }, // rides on the first
      { since: 5, limit: 3 }, // the next read too
    ]);
    release();
    const [page, pages] = await Promise.all([first, later]);
    expect(sent).toEqual([
      { since: 20, limit: 300 },
      { since: 2, limit: 300 }, // from the lowest since, as far as the furthest reader needs
    ]);
    expect(page).toEqual(store.read(TOPIC, 20, 300, limits));
    expect(pages).toEqual([store.read(TOPIC, 25, 300, limits), store.read(TOPIC, 2, 300, limits), store.read(TOPIC, 28, 1, limits), store.read(TOPIC, 5, 3, limits)]);
    expect(reads.pendingTopics).toBe(0);
  });

  it("a rider the page in flight does not hold reads on its own: ahead of the page's top, or past the read's limit", async () => {
    const { store, limits } = storeWith(30, 100);
    const { reads, sent, release } = counted(store, 1000, true);
    const first = readAll(reads, limits, [
      { since: 10, limit: 5 }, // the read in flight: 11..15 of a top of 30
      { since: 12, limit: 2 },
    ]);
    await new Promise<void>((resolve) => setImmediate(resolve));
    // Broadcasts made after the read in flight: a reader that saw them is ahead of its page.
    for (let n = 31; n <= 34; n++) store.append({ topic: TOPIC, event: "msg", payload: JSON.stringify({ n }), limits });
    const later = readAll(reads, limits, [
      { since: 33, limit: 300 }, // ahead of the page's top (30)
      { since: 11, limit: 300 }, // needs 12..30, the page has 11..15
      { since: 13, limit: 2 }, // 14..15: held
      { since: Number.MAX_SAFE_INTEGER, limit: 0 }, // a fresh join: the epoch and top of the page
    ]);
    release();
    const [pages, ridden] = await Promise.all([first, later]);
    expect(sent).toEqual([
      { since: 10, limit: 5 },
      { since: 11, limit: 300 + 33 - 11 },
    ]);
    expect(pages[1].entries.map((e) => e.offset)).toEqual([13, 14]);
    expect(ridden[0]).toEqual(store.read(TOPIC, 33, 300, limits));
    expect(ridden[0].entries.map((e) => e.offset)).toEqual([34]);
    expect(ridden[1]).toEqual(store.read(TOPIC, 11, 300, limits));
    expect(ridden[2].entries.map((e) => e.offset)).toEqual([14, 15]);
    expect(ridden[3]).toEqual({ epoch: pages[0].epoch, top: 30, entries: [] });
    expect(reads.pendingTopics).toBe(0);
  });

  it("at most historyReadCoalesceMax readers share a read: the rest go alone", async () => {
    const { store, limits } = storeWith(10, 100);
    const { reads, sent } = counted(store, 3);
    const asks = Array.from({ length: 7 }, (_, i) => ({ since: i, limit: 300 }));
    const pages = await readAll(reads, limits, asks);
    expect(sent.length).toBe(1 + 4);
    for (const [i, { since, limit }] of asks.entries()) expect(pages[i]).toEqual(store.read(TOPIC, since, limit, limits));
  });

  it("1: every read goes to the store on its own", async () => {
    const { store, limits } = storeWith(10, 100);
    const { reads, sent } = counted(store, 1);
    await readAll(reads, limits, [
      { since: 1, limit: 300 },
      { since: 2, limit: 300 },
    ]);
    expect(sent.length).toBe(2);
  });

  it("a failed store read fails every reader it served, and the next read goes on", async () => {
    let fail = true;
    const reads = new CoalescedReads({
      read: async () => {
        if (fail) throw new Error("Redis is gone");
        return { epoch: "e", top: 0, entries: [] };
      },
      maxPerRead: 1000,
      onAsked: () => undefined,
      onSent: () => undefined,
    });
    const limits = { size: 10, ttlMs: 1000 };
    const outcomes = await Promise.allSettled([reads.read(TOPIC, 1, 10, limits), reads.read(TOPIC, 2, 10, limits)]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    await expect(reads.read(TOPIC, 1, 10, limits)).resolves.toEqual({ epoch: "e", top: 0, entries: [] });
  });

  it("any set of readers asking together, on any stream: each gets what a read of its own gives", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.record({ since: fc.integer({ min: 0, max: 80 }), limit: fc.integer({ min: 0, max: 50 }) }), { minLength: 1, maxLength: 12 }),
        async (count, size, asks) => {
          const { store, limits } = storeWith(count, size);
          const { reads, sent } = counted(store);
          const pages = await readAll(reads, limits, asks);
          expect(sent.length).toBe(1);
          for (const [i, { since, limit }] of asks.entries()) expect(pages[i]).toEqual(store.read(TOPIC, since, limit, limits));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("readers arriving while reads are in flight and the stream grows: each gets what a read of its own gives, at its page's moment or later", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(
          fc.record({ since: fc.integer({ min: 0, max: 70 }), limit: fc.integer({ min: 0, max: 30 }), appendBefore: fc.integer({ min: 0, max: 3 }) }),
          { minLength: 1, maxLength: 12 },
        ),
        async (count, size, asks) => {
          const { store, limits } = storeWith(count, size);
          let appended = count;
          // Every store read is held for a turn, so later readers find one in flight.
          const answered: Array<{ since: number; limit: number; page: HistoryPage }> = [];
          const reads = new CoalescedReads({
            read: async (topic, since, limit, readLimits) => {
              const page = store.read(topic, since, limit, readLimits);
              answered.push({ since, limit, page });
              await new Promise<void>((resolve) => setImmediate(resolve));
              return page;
            },
            maxPerRead: 1000,
            onAsked: () => undefined,
            onSent: () => undefined,
          });
          const pending: Array<Promise<{ page: HistoryPage; since: number; limit: number }>> = [];
          for (const { since, limit, appendBefore } of asks) {
            for (let i = 0; i < appendBefore; i++) store.append({ topic: TOPIC, event: "msg", payload: JSON.stringify({ n: ++appended }), limits });
            pending.push(reads.read(TOPIC, since, limit, limits).then((page) => ({ page, since, limit })));
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
          for (const { page, since, limit } of await Promise.all(pending)) {
            // The page of some store read, sliced as a read of the reader's own at that moment.
            expect(answered.some((a) => a.page.epoch === page.epoch && a.page.top === page.top && (limit === 0 || a.since <= since))).toBe(true);
            const got = page.entries.map((e) => e.offset);
            const top = page.top;
            const first = Math.max(since + 1, top - size + 1, 1);
            // The first `limit` entries after `since` among those the stream still keeps.
            const last = Math.min(first + limit - 1, top);
            const own = limit === 0 || last < first ? [] : Array.from({ length: last - first + 1 }, (_, i) => first + i);
            expect(got).toEqual(own);
          }
          expect(reads.pendingTopics).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
