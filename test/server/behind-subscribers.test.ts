import { describe, expect, it, vi } from "vitest";
import { CLOSE, type CinderServer } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { waitFor } from "../support/wait.js";
import { BODY, broadcastUntil, conflating, history, KiB, longPollSubscriber, MiB, of, plain, settings, tcp, turn } from "../support/behind.js";

// "Behind, not gone": a subscriber that stops reading leaves the live stream past behindBytes and
// catches up once it reads again, from history or from the latest message per key. The slow
// reader is a raw client whose TCP socket is paused, then resumed.
const opened = perTest();

/** A slow reader falls behind on a history topic, reads again while broadcasts go on, and must get every one once, in order. */
async function caughtUpInOrder(server: CinderServer): Promise<void> {
  const slow = await opened.joinedClient(server, "h:1");
  const fast = await opened.joinedClient(server, "h:1");
  tcp(slow).pause();

  let sent = await broadcastUntil(server, "h:1", 0, (i) => ({ i, body: BODY }), async () => (await metricOf(server, "cinder_subscribers_fell_behind_total", { kind: "history" })) >= 1, "the slow reader to fall behind");
  // More while it is behind: none of it is queued for it.
  const behindAt = sent;
  for (; sent < behindAt + 200; sent++) server.broadcast("h:1", "msg", { i: sent, body: BODY });
  // It reads again while broadcasts go on: live frames reach the thread during its catch-up.
  tcp(slow).resume();
  sent = await broadcastUntil(server, "h:1", sent, (i) => ({ i, body: BODY }), async () => (await metricOf(server, "cinder_subscribers_caught_up_total", { kind: "history" })) >= 1, "the slow reader to be caught up");
  for (const end = sent + 50; sent < end; sent++) server.broadcast("h:1", "msg", { i: sent, body: BODY });

  const last = sent - 1;
  for (const client of [slow, fast]) await waitFor(() => of(client, "msg").some((p) => p.i === last), "the last broadcast", 30_000);
  const got = of(slow, "msg");
  expect(got.map((p) => p.i)).toEqual([...Array(sent).keys()]);
  expect(got.map((p) => p._o)).toEqual([...Array(sent).keys()].map((i) => i + 1));
  expect(of(fast, "msg").map((p) => p.i)).toEqual([...Array(sent).keys()]);
  expect(of(slow, "history_gap")).toEqual([]);
  expect(await metricOf(server, "cinder_behind_messages_resent_total", { kind: "history" })).toBeGreaterThanOrEqual(200);
  expect(slow.closeEvent).toBeNull();
}

describe("a subscriber behind on a history topic", () => {
  it("is caught up from history once it reads again, in order, with nothing lost and nothing twice", async () => {
    await caughtUpInOrder(await opened.server({ ...settings, channels: { "h:*": history(100_000) } }));
  }, 60_000);

  it("is caught up the same from a history Redis numbers, its live frames arriving on their own connection", async () => {
    const redis = await opened.redis();
    await caughtUpInOrder(await opened.server({ ...settings, channels: { "h:*": history(100_000) }, redisUrl: redis.url }));
  }, 60_000);

  it("misses nothing when it falls behind in the middle of a turn's broadcasts", async () => {
    const server = await opened.server({ ...settings, channels: { "h:*": history(100_000) } });
    const slow = await opened.joinedClient(server, "h:3");
    tcp(slow).pause();
    // The sweep looks at unread bytes at most every 100 ms of Date.now(). With the clock in the
    // test's hands, it falls due at the second broadcast of each turn, with the first one queued
    // before the subscriber leaves its uWS topic (such a broadcast was lost once: see behindKey
    // in topic-key.ts).
    const realNow = Date.now.bind(Date);
    let clock = realNow();
    vi.spyOn(Date, "now").mockImplementation(() => clock);
    let sent = 0;
    try {
      while ((await metricOf(server, "cinder_subscribers_fell_behind_total", { kind: "history" })) === 0) {
        if (sent > 20_000) throw new Error("the slow reader never fell behind");
        server.broadcast("h:3", "msg", { i: sent++, body: BODY });
        clock += 200;
        server.broadcast("h:3", "msg", { i: sent++, body: BODY });
        await turn();
      }
    } finally {
      vi.restoreAllMocks();
    }
    tcp(slow).resume();
    sent = await broadcastUntil(server, "h:3", sent, (i) => ({ i, body: BODY }), async () => (await metricOf(server, "cinder_subscribers_caught_up_total", { kind: "history" })) >= 1, "the slow reader to be caught up");
    await waitFor(() => of(slow, "msg").some((p) => p.i === sent - 1), "the last broadcast", 30_000);
    expect(of(slow, "msg").map((p) => p.i)).toEqual([...Array(sent).keys()]);
  }, 60_000);

  it("gets history_gap with the position it goes on from when history no longer covers what it missed", async () => {
    const server = await opened.server({ ...settings, channels: { "h:*": history(50) } });
    const slow = await opened.joinedClient(server, "h:2");
    tcp(slow).pause();
    let sent = await broadcastUntil(server, "h:2", 0, (i) => ({ i, body: BODY }), async () => (await metricOf(server, "cinder_subscribers_fell_behind_total", { kind: "history" })) >= 1, "the slow reader to fall behind");
    // Far more than the 50 history keeps.
    const behindAt = sent;
    for (; sent < behindAt + 200; sent++) server.broadcast("h:2", "msg", { i: sent, body: BODY });
    await turn();
    tcp(slow).resume();
    const [gap] = await waitFor(() => of(slow, "history_gap").length > 0 && of(slow, "history_gap"), "a history_gap");
    for (const end = sent + 20; sent < end; sent++) server.broadcast("h:2", "msg", { i: sent, body: BODY });
    await waitFor(() => of(slow, "msg").some((p) => p.i === sent - 1), "the broadcasts after the gap");

    expect(gap).toMatchObject({ _o: behindAt + 200, _e: expect.any(String) });
    const offsets = of(slow, "msg").map((p) => p._o as number);
    const before = offsets.filter((o) => o <= (gap.from as number));
    const after = offsets.filter((o) => o > (gap._o as number));
    // Everything up to where it stopped, then everything from the gap's position on; nothing twice.
    expect(before).toEqual([...Array(gap.from as number).keys()].map((i) => i + 1));
    expect(after).toEqual([...Array(20).keys()].map((i) => (gap._o as number) + 1 + i));
    expect(offsets.length).toBe(before.length + after.length);
    expect(await metricOf(server, "cinder_history_gaps_total")).toBe(1);
    expect(await metricOf(server, "cinder_subscribers_caught_up_total", { kind: "history" })).toBe(1);
  }, 60_000);
});

describe("a subscriber behind on a conflating topic", () => {
  it("keeps the latest message per key while behind and gets them when it drains", async () => {
    const server = await opened.server({ ...settings, channels: { "c:*": conflating } });
    const slow = await opened.joinedClient(server, "c:1");
    tcp(slow).pause();
    const KEYS = 10;
    let sent = await broadcastUntil(server, "c:1", 0, (i) => ({ key: i % KEYS, i, body: BODY }), async () => (await metricOf(server, "cinder_subscribers_fell_behind_total", { kind: "conflated" })) >= 1, "the slow reader to fall behind");
    const behindAt = sent;
    for (; sent < behindAt + 500; sent++) server.broadcast("c:1", "msg", { key: sent % KEYS, i: sent, body: BODY });
    await turn();
    tcp(slow).resume();
    await waitFor(async () => (await metricOf(server, "cinder_subscribers_caught_up_total", { kind: "conflated" })) >= 1, "the slow reader to get the latest per key");
    server.broadcast("c:1", "msg", { key: "end", i: sent });
    await waitFor(() => of(slow, "msg").some((p) => p.key === "end"), "a live broadcast after the catch-up");

    const got = of(slow, "msg").filter((p) => p.key !== "end");
    // The latest value of every key arrived, each key's values in order, far fewer than were sent.
    for (let key = 0; key < KEYS; key++) {
      const values = got.filter((p) => p.key === key).map((p) => p.i as number);
      expect(values.at(-1)).toBe([...Array(sent).keys()].filter((i) => i % KEYS === key).at(-1));
      expect(values).toEqual([...values].sort((a, b) => a - b));
    }
    expect(got.length).toBeLessThan(sent - 400);
    expect(await metricOf(server, "cinder_conflated_superseded_total")).toBeGreaterThanOrEqual(490);
    expect(slow.closeEvent).toBeNull();
  }, 60_000);

  it("keeps the latest per key of broadcasts that come from another node", async () => {
    const redis = await opened.redis();
    const sender = await opened.server({ ...settings, nodeName: "sender", redisUrl: redis.url, channels: { "c:*": conflating } });
    const server = await opened.server({ ...settings, nodeName: "reader", redisUrl: redis.url, channels: { "c:*": conflating } });
    const slow = await opened.joinedClient(server, "c:3");
    // The sender's broadcasts reach the reader's node: the first one arrives.
    await waitFor(async () => (sender.broadcast("c:3", "msg", { key: "hello", i: -1 }), await turn(), of(slow, "msg").length > 0), "a broadcast from the other node");
    tcp(slow).pause();
    const KEYS = 10;
    let sent = await broadcastUntil(sender, "c:3", 0, (i) => ({ key: i % KEYS, i, body: BODY }), async () => (await metricOf(server, "cinder_subscribers_fell_behind_total", { kind: "conflated" })) >= 1, "the slow reader to fall behind");
    const behindAt = sent;
    for (; sent < behindAt + 300; sent++) sender.broadcast("c:3", "msg", { key: sent % KEYS, i: sent, body: BODY });
    // Every one of them reached the reader's node before it reads again (each replaced a key's message or was held).
    await waitFor(async () => (await metricOf(server, "cinder_conflated_superseded_total")) >= 290, "the broadcasts to reach the reader's node");
    tcp(slow).resume();
    await waitFor(async () => (await metricOf(server, "cinder_subscribers_caught_up_total", { kind: "conflated" })) >= 1, "the slow reader to get the latest per key");
    sender.broadcast("c:3", "msg", { key: "end", i: sent });
    await waitFor(() => of(slow, "msg").some((p) => p.key === "end"), "a live broadcast after the catch-up");
    const got = of(slow, "msg").filter((p) => typeof p.key === "number");
    for (let key = 0; key < KEYS; key++) {
      const values = got.filter((p) => p.key === key).map((p) => p.i as number);
      expect(values.at(-1)).toBe([...Array(sent).keys()].filter((i) => i % KEYS === key).at(-1));
      expect(values).toEqual([...values].sort((a, b) => a - b));
    }
  }, 60_000);

  it("is closed as a slow consumer (1013) past conflationMaxKeys", async () => {
    const server = await opened.server({ ...settings, conflationMaxKeys: 20, channels: { "c:*": conflating } });
    const slow = await opened.joinedClient(server, "c:2");
    tcp(slow).pause();
    await broadcastUntil(server, "c:2", 0, (i) => ({ key: i, i, body: BODY }), async () => (await metricOf(server, "cinder_conflation_overflows_total")) >= 1, "the conflation bound to close it");
    tcp(slow).resume();
    expect(await slow.closed()).toMatchObject({ code: CLOSE.slowConsumer });
  }, 60_000);
});

describe("the hard cap", () => {
  it("still closes a subscriber of a topic with neither history nor conflation (1013)", async () => {
    const server = await opened.server({ behindBytes: 64 * KiB, maxBufferedBytes: 1 * MiB, channels: { "p:*": plain } });
    const slow = await opened.joinedClient(server, "p:1");
    tcp(slow).pause();
    await broadcastUntil(server, "p:1", 0, (i) => ({ i, body: BODY }), async () => server.health().sockets === 0, "the slow consumer to be closed");
    // (Its close frame may not get through the bytes queued before it: the count says why it went.)
    expect(await metricOf(server, "cinder_slow_consumer_disconnects_total")).toBe(1);
    expect(await metricOf(server, "cinder_subscribers_fell_behind_total", { kind: "history" })).toBe(0);
    expect(await metricOf(server, "cinder_subscribers_fell_behind_total", { kind: "conflated" })).toBe(0);
  }, 60_000);
});

describe("a LongPoll subscriber behind on a history topic", () => {
  it("is caught up from history once it polls again, with nothing lost and nothing twice", async () => {
    // The session's own cap must leave room above behindBytes for what arrives between two looks
    // at its outbox (100 ms; docs/operations.md#behind-not-gone): this test broadcasts flat out.
    const server = await opened.server({ ...settings, longPollMaxBufferedBytes: 256 * MiB, channels: { "h:*": history(100_000) } });
    const { frames, pollOnce } = await longPollSubscriber(server.port, "h:lp");
    // It stops polling: its outbox fills past behindBytes.
    let sent = await broadcastUntil(server, "h:lp", 0, (i) => ({ i, body: BODY }), async () => (await metricOf(server, "cinder_subscribers_fell_behind_total", { kind: "history" })) >= 1, "the session to fall behind");
    for (const end = sent + 100; sent < end; sent++) server.broadcast("h:lp", "msg", { i: sent, body: BODY });
    const msgs = () => frames.filter((f) => f[3] === "msg").map((f) => f[4] as Record<string, unknown>);
    await waitFor(async () => (await pollOnce(), (await metricOf(server, "cinder_subscribers_caught_up_total", { kind: "history" })) >= 1), "the session to be caught up", 30_000);
    for (const end = sent + 10; sent < end; sent++) server.broadcast("h:lp", "msg", { i: sent, body: BODY });
    await waitFor(async () => (await pollOnce(), msgs().some((p) => p.i === sent - 1)), "the last broadcast", 30_000);
    expect(msgs().map((p) => p.i)).toEqual([...Array(sent).keys()]);
    expect(msgs().map((p) => p._o)).toEqual([...Array(sent).keys()].map((i) => i + 1));
  }, 60_000);
});
