import { describe, expect, it } from "vitest";
import { emptyPresenceMap, type PresenceDiff, type PresenceMap } from "../../server/presence/diff.js";
import { FetchChains } from "../../server/presence/fetch-chains.js";
import { FetchGate, mergeEnriched, type FetchOutcome, type PresenceFetch } from "../../server/presence/presence-fetch.js";
import { waitFor } from "../support/wait.js";

function mapOf(...keys: string[]): PresenceMap {
  const map = emptyPresenceMap();
  for (const key of keys) map[key] = { metas: [{ phx_ref: `ref-${key}` }] };
  return map;
}

/** A fetch whose calls wait until the test answers them, in any order. */
function heldFetch() {
  const calls: Array<{ keys: string; answer: () => void }> = [];
  const fetch: PresenceFetch = (_topic, presences) =>
    new Promise((resolve) => {
      calls.push({ keys: Object.keys(presences).join(","), answer: () => resolve(mergeEnriched(presences, tag(presences))!) });
    });
  return { calls, fetch };
}

function tag(presences: PresenceMap): Record<string, object> {
  const out: Record<string, object> = {};
  for (const key in presences) out[key] = { user: { name: key } };
  return out;
}

function gateCounting(concurrency: number, timeoutMs = 60_000) {
  const outcomes: FetchOutcome[] = [];
  const gate = new FetchGate({ concurrency, timeoutMs, outcome: (outcome) => outcomes.push(outcome), failed: () => undefined });
  return { gate, outcomes };
}

describe("FetchGate", () => {
  it("runs at most `concurrency` fetches at once; the others start, in order, as slots free", async () => {
    const { calls, fetch } = heldFetch();
    const { gate, outcomes } = gateCounting(2);
    const results = ["a", "b", "c", "d"].map((key) => gate.enrich(fetch, "room:1", mapOf(key)));
    await waitFor(() => calls.length === 2, "two fetches to start");
    expect(gate.pending).toBe(4);
    calls[1].answer();
    await waitFor(() => calls.length === 3, "the third to start when one slot freed");
    expect(calls.map((call) => call.keys)).toEqual(["a", "b", "c"]);
    for (const call of [calls[0], calls[2]]) call.answer();
    await waitFor(() => calls.length === 4, "the fourth to start");
    calls[3].answer();
    const enriched = await Promise.all(results);
    expect(enriched.map((map) => Object.values(map)[0])).toEqual(["a", "b", "c", "d"].map((key) => ({ user: { name: key }, metas: [{ phx_ref: `ref-${key}` }] })));
    expect(outcomes).toEqual(["ok", "ok", "ok", "ok"]);
    expect(gate.pending).toBe(0);
  });

  it("keeps the tracked metas and the raw entries of keys the fetch leaves out; a non-object answer is a failure", () => {
    const raw = mapOf("a", "b");
    const merged = mergeEnriched(raw, { a: { user: { name: "A" }, metas: [{ phx_ref: "forged" }] }, c: { user: {} } });
    expect(merged).toEqual({ a: { user: { name: "A" }, metas: [{ phx_ref: "ref-a" }] }, b: raw.b });
    expect(Object.keys(merged!)).toEqual(["a", "b"]);
    expect(mergeEnriched(raw, null)).toBeNull();
    expect(mergeEnriched(raw, [1])).toBeNull();
  });
});

describe("FetchChains", () => {
  function chains(fetch: PresenceFetch, maxWaiting: number) {
    const delivered: string[] = [];
    const counted: Array<[FetchOutcome, number]> = [];
    let waiting = 0;
    const { gate } = gateCounting(8);
    const chain = new FetchChains({
      gate,
      fetchFor: (topic) => (topic.startsWith("room:") ? fetch : undefined),
      maxWaiting,
      deliver: (topic, diff) => delivered.push(`${topic} ${Object.keys(diff.joins).join(",")}${"user" in (Object.values(diff.joins)[0] ?? {}) ? "+" : ""}`),
      outcome: (outcome, count) => counted.push([outcome, count]),
      waiting: (delta) => (waiting += delta),
    });
    return { chain, delivered, counted, waiting: () => waiting };
  }
  const joinOf = (key: string): PresenceDiff => ({ joins: mapOf(key), leaves: emptyPresenceMap() });

  it("delivers a topic's diffs in order whatever order the fetches answer in; other topics go at once", async () => {
    const { calls, fetch } = heldFetch();
    const { chain, delivered, waiting } = chains(fetch, 10);
    for (const key of ["a", "b", "c"]) chain.push("room:1", joinOf(key));
    chain.push("plain:1", joinOf("x"));
    expect(delivered).toEqual(["plain:1 x"]);
    expect(waiting()).toBe(3);
    // One fetch at a time per topic: the next starts once the one before went out.
    await waitFor(() => calls.length === 1, "the first fetch");
    calls[0].answer();
    await waitFor(() => calls.length === 2, "the second fetch");
    calls[1].answer();
    await waitFor(() => calls.length === 3, "the third fetch");
    calls[2].answer();
    await waitFor(() => delivered.length === 4, "every diff");
    expect(delivered).toEqual(["plain:1 x", "room:1 a+", "room:1 b+", "room:1 c+"]);
    expect(waiting()).toBe(0);
  });

  it("past maxWaiting, the diffs waiting behind the one being fetched go out raw right after it, in order", async () => {
    const { calls, fetch } = heldFetch();
    const { chain, delivered, counted, waiting } = chains(fetch, 2);
    for (const key of ["a", "b", "c", "d"]) chain.push("room:1", joinOf(key));
    await waitFor(() => calls.length === 1, "the first fetch");
    expect(waiting()).toBe(4);
    calls[0].answer();
    await waitFor(() => delivered.length === 4, "every diff");
    expect(delivered).toEqual(["room:1 a+", "room:1 b", "room:1 c", "room:1 d"]);
    expect(counted).toEqual([["skipped", 3]]);
    expect(calls).toHaveLength(1);
    expect(waiting()).toBe(0);
  });

  it("stopping sends what waits raw, in order, and ignores the answers that come later", async () => {
    const { calls, fetch } = heldFetch();
    const { chain, delivered, counted, waiting } = chains(fetch, 10);
    for (const key of ["a", "b"]) chain.push("room:1", joinOf(key));
    await waitFor(() => calls.length === 1, "the first fetch");
    chain.stop();
    expect(delivered).toEqual(["room:1 a", "room:1 b"]);
    calls[0].answer();
    chain.push("room:1", joinOf("c"));
    await Promise.resolve();
    expect(delivered).toEqual(["room:1 a", "room:1 b", "room:1 c"]);
    expect(counted).toEqual([["skipped", 2], ["skipped", 1]]);
    expect(waiting()).toBe(0);
  });
});
