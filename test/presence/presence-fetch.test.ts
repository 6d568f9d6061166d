import { Presence, type Channel } from "phoenix";
import { describe, expect, it } from "vitest";
import type { CinderServer, PresenceFetch } from "../../server/index.js";
import { ok, type ChannelHandler } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { joined as joinedChannel } from "../support/phoenix-channel.js";
import { waitFor } from "../support/wait.js";

const opened = perTest();

type Entry = { metas: Array<Record<string, unknown>>; user?: { name: string } };

/**
 * A room whose members track themselves and get the list; a member may track, update or untrack
 * more keys by pushing `track`, `update`, `untrack` ({key, n}). Its presences go out through `fetch`.
 */
function fetchRoom(fetch: PresenceFetch): ChannelHandler {
  return {
    join: (_topic, params, socket) => {
      socket.assigns.user = String(params.user);
      return ok();
    },
    afterJoin(socket) {
      socket.pushPresenceState();
      socket.track(socket.assigns.user as string, { n: 0 });
    },
    handleIn(event, payload, socket) {
      const { key, n } = payload as { key: string; n: number };
      if (event === "track") socket.track(key, { n });
      else if (event === "update") socket.updatePresence(key, { n });
      else if (event === "untrack") socket.untrack(key);
      return ok();
    },
    presenceFetch: fetch,
  };
}

/** The fetch of the tests: every entry gets `user: {name}` (its key in capitals). */
function named(presences: Record<string, Entry>): Record<string, Entry> {
  const enriched: Record<string, Entry> = {};
  for (const key in presences) enriched[key] = { ...presences[key], user: { name: key.toUpperCase() } };
  return enriched;
}

/** A phoenix.js client in `room:fetch`, with its Presence and the keys its onJoin saw, in order. */
function member(server: CinderServer, user: string) {
  const socket = opened.phoenix(server.port);
  const channel: Channel = socket.channel("room:fetch", { user });
  const presence = new Presence(channel);
  const joins: Array<{ key: string; name: string | undefined; n: unknown }> = [];
  presence.onJoin((key, _current, joined) => {
    const entry = joined as Entry;
    for (const meta of entry.metas) joins.push({ key: key as string, name: entry.user?.name, n: meta.n });
  });
  const joined = joinedChannel(channel);
  /** `key:NAME×metas`, sorted; NAME is "-" for a raw entry. */
  const list = () =>
    presence
      .list((key, p) => `${key}:${(p as Entry).user?.name ?? "-"}×${(p as Entry).metas.length}`)
      .sort()
      .join(",");
  const entry = (key: string) => presence.list((k, p) => (k === key ? (p as Entry) : undefined)).find(Boolean);
  return { channel, presence, joins, joined, list, entry };
}

describe("presence fetch (a channel's presenceFetch), seen through phoenix.js Presence", () => {
  it("enriches presence_state and presence_diff: the fetch's fields arrive beside metas", async () => {
    const server = await opened.server({ channels: { "room:*": fetchRoom((_topic, presences) => named(presences)) }, maxPresencePerSecond: 0 });
    const ada = member(server, "ada");
    await ada.joined;
    await waitFor(() => ada.list() === "ada:ADA×1", () => `ada to see herself enriched (${ada.list()})`);

    const bob = member(server, "bob");
    await bob.joined;
    // bob from his presence_state, ada from the diff of bob's join.
    await waitFor(() => bob.list() === "ada:ADA×1,bob:BOB×1" && ada.list() === "ada:ADA×1,bob:BOB×1", () => `both enriched (${ada.list()} | ${bob.list()})`);
    expect(bob.entry("ada")?.metas[0].phx_ref).toEqual(expect.any(String));

    bob.channel.leave();
    await waitFor(() => ada.list() === "ada:ADA×1", "bob's leave to reach ada");
    expect(await metricOf(server, "cinder_presence_fetches_total", { outcome: "ok" })).toBeGreaterThanOrEqual(3);
    expect(await metricOf(server, "cinder_presence_fetch_waiting")).toBe(0);
  });

  it("calls the fetch once per coalesced diff, however many members receive it", async () => {
    const calls: string[] = [];
    const fetch: PresenceFetch = (_topic, presences) => {
      calls.push(Object.keys(presences).sort().join(","));
      return Promise.resolve(named(presences));
    };
    const server = await opened.server({ channels: { "room:*": fetchRoom(fetch) }, maxPresencePerSecond: 0 });
    const members = ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"].map((user) => member(server, user));
    await Promise.all(members.map((m) => m.joined));
    const everyone = members.map((_m, i) => `m${i}:M${i}×1`).join(",");
    await waitFor(() => members.every((m) => m.list() === everyone), "every member to hold the enriched list");

    await joinedPush(members[0].channel, "track", { key: "extra", n: 1 });
    await waitFor(() => members.every((m) => m.entry("extra")?.user?.name === "EXTRA"), "every member to see extra, enriched");
    expect(calls.filter((keys) => keys === "extra")).toEqual(["extra"]);
    // Lists are fetched once per snapshot and diffs once each (joins only here), never per member.
    const snapshots = await metricOf(server, "cinder_presence_state_encodings_total");
    const diffs = await metricOf(server, "cinder_presence_diffs_total");
    expect(calls.length).toBeLessThanOrEqual(snapshots + diffs);
    expect(calls.length).toBeLessThan(members.length * 2);
  });

  it("members that ask while a list is being fetched start on it: one fetch, then the diffs held meanwhile", async () => {
    let held: Array<() => void> | null = [];
    const fetch: PresenceFetch = (_topic, presences) => {
      if (!held) return named(presences);
      return new Promise((resolve) => held!.push(() => resolve(named(presences))));
    };
    const server = await opened.server({ channels: { "room:*": fetchRoom(fetch) }, maxPresencePerSecond: 0, presenceFetchTimeoutMs: 30_000 });
    const first = member(server, "m0");
    await first.joined;
    await waitFor(async () => (await metricOf(server, "cinder_presence_fetch_waiting")) >= 1, "the first list's fetch to be held");
    const others = ["m1", "m2", "m3"].map((user) => member(server, user));
    await Promise.all(others.map((m) => m.joined));
    await waitFor(async () => (await metricOf(server, "cinder_presence_state_waiting")) === 4, "every member to wait for its list");
    expect(first.list()).toBe("");

    const release = held;
    held = null;
    for (const answer of release) answer();
    const everyone = "m0:M0×1,m1:M1×1,m2:M2×1,m3:M3×1";
    const all = [first, ...others];
    await waitFor(() => all.every((m) => m.list() === everyone), () => `every member to hold the enriched list (${all.map((m) => m.list()).join(" | ")})`);
    expect(await metricOf(server, "cinder_presence_state_encodings_total")).toBe(1);
    expect(await metricOf(server, "cinder_presence_fetch_waiting")).toBe(0);
  });

  it("a slow fetch times out: the raw entries go out, and the topic's later diffs follow in order", async () => {
    const fetch: PresenceFetch = (_topic, presences, { signal }) => {
      if (!("slow" in presences)) return named(presences);
      // Answers only once its time is up: the answer must be ignored.
      return new Promise((resolve) => signal.addEventListener("abort", () => resolve(named(presences))));
    };
    // Each change its own diff: the slow one, then the fast one behind it.
    const server = await opened.server({ channels: { "room:*": fetchRoom(fetch) }, maxPresencePerSecond: 0, presenceDiffCoalesceMs: 0, presenceFetchTimeoutMs: 200 });
    const ada = member(server, "ada");
    await ada.joined;
    await waitFor(() => ada.list() === "ada:ADA×1", "ada to see herself enriched");

    ada.channel.push("track", { key: "slow", n: 1 });
    ada.channel.push("track", { key: "fast", n: 2 });
    await waitFor(() => ada.list() === "ada:ADA×1,fast:FAST×1,slow:-×1", () => `slow raw, fast enriched (${ada.list()})`);
    expect(ada.joins.map(({ key, name }) => `${key}:${name ?? "-"}`)).toEqual(["ada:ADA", "slow:-", "fast:FAST"]);
    expect(await metricOf(server, "cinder_presence_fetches_total", { outcome: "timeout" })).toBe(1);

    // A list holding "slow" times out too: the late joiner gets it raw, every entry.
    const bob = member(server, "bob");
    await bob.joined;
    await waitFor(() => bob.list() === "ada:-×1,bob:-×1,fast:-×1,slow:-×1", () => `bob's list, raw (${bob.list()})`);
    expect(await metricOf(server, "cinder_presence_fetches_total", { outcome: "timeout" })).toBe(2);
    await waitFor(async () => (await metricOf(server, "cinder_presence_fetch_waiting")) === 0, "nothing left waiting");
  });

  it("a failing fetch sends the raw entries and is counted; the next diff is enriched again", async () => {
    const fetch: PresenceFetch = (_topic, presences) => {
      if ("bad" in presences) throw new Error("database down");
      if ("worse" in presences) return Promise.reject(new Error("query failed"));
      return named(presences);
    };
    const server = await opened.server({ channels: { "room:*": fetchRoom(fetch) }, maxPresencePerSecond: 0, presenceDiffCoalesceMs: 0 });
    const ada = member(server, "ada");
    await ada.joined;
    await waitFor(() => ada.list() === "ada:ADA×1", "ada to see herself enriched");

    ada.channel.push("track", { key: "bad", n: 1 });
    ada.channel.push("track", { key: "worse", n: 2 });
    ada.channel.push("track", { key: "good", n: 3 });
    await waitFor(() => ada.list() === "ada:ADA×1,bad:-×1,good:GOOD×1,worse:-×1", () => `bad and worse raw, good enriched (${ada.list()})`);
    expect(ada.joins.map(({ key }) => key)).toEqual(["ada", "bad", "worse", "good"]);
    expect(await metricOf(server, "cinder_presence_fetches_total", { outcome: "failed" })).toBe(2);
  });

  it("keeps a topic's diffs in order when later fetches answer sooner", async () => {
    let call = 0;
    const fetch: PresenceFetch = (_topic, presences) => {
      // Each fetch answers sooner than the one before it: without the order kept, diffs would overtake each other.
      const delay = Math.max(0, 40 - 2 * call++);
      return new Promise((resolve) => setTimeout(() => resolve(named(presences)), delay));
    };
    const server = await opened.server({
      channels: { "room:*": fetchRoom(fetch) },
      maxPresencePerSecond: 0,
      presenceDiffCoalesceMs: 0,
      presenceFetchConcurrency: 16,
    });
    const watcher = member(server, "watcher");
    const actor = member(server, "actor");
    await Promise.all([watcher.joined, actor.joined]);
    await waitFor(() => watcher.list() === "actor:ACTOR×1,watcher:WATCHER×1", () => `both enriched (${watcher.list()})`);

    for (let n = 1; n <= 20; n++) actor.channel.push("update", { key: "actor", n });
    await waitFor(() => watcher.entry("actor")?.metas[0].n === 20, "the last update to reach the watcher");
    // Every update, in the order made (a join seen again after the list, as pending changes are, is no change).
    const seen = watcher.joins.filter(({ key }) => key === "actor").map(({ n }) => Number(n));
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect([...new Set(seen)]).toEqual(Array.from({ length: 21 }, (_v, n) => n));
    expect(watcher.list()).toBe("actor:ACTOR×1,watcher:WATCHER×1");
  });
});

function joinedPush(channel: Channel, event: string, payload: object): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.push(event, payload).receive("ok", () => resolve()).receive("error", reject);
  });
}
