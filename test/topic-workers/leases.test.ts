import { beforeAll, describe, expect, it } from "vitest";
import type { EncodedBroadcast } from "../../server/fabric/encoded-broadcast.js";
import { topicChannel, type RedisFabric } from "../../server/fabric/fabric-redis.js";
import { RedisLeases } from "../../server/leases/leases-redis.js";
import { fenceOf, type Leases } from "../../server/leases/leases.js";
import { MEMORY_STATE_TOPICS, MemoryLeases } from "../../server/leases/leases-memory.js";
import { perFile } from "../support/opened.js";
import type { RedisCluster } from "../support/redis-cluster.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";
import { testFabric, waitConnected } from "../cluster/support.js";

/**
 * The lease contract, the same for every medium: two claimants A and B of one topic, each with
 * its own view of the leases (in memory both share one; in Redis each is a node's fabric).
 */
interface Medium {
  a: Leases;
  b: Leases;
  /** Broadcasts that reached node B from elsewhere (Redis only). */
  receivedByB?: EncodedBroadcast[];
  /** Lets time pass for the leases (memory: a fake clock; Redis: real time, waited on by polling). */
  elapse(ms: number): Promise<void>;
}

/** The TTL of the cases where leases expire (Redis waits for real time). */
const TTL = 600;
/** The TTL of the cases where no lease may expire, however slowly a busy machine runs them. */
const LONG_TTL = 60_000;
const claim = (leases: Leases, claimant: string, extra: { token?: string; interested?: boolean; topic?: string; ttlMs?: number } = {}) =>
  leases.claim({ topic: extra.topic ?? "score:1", claimant, ttlMs: extra.ttlMs ?? TTL, interested: extra.interested ?? true, ...(extra.token ? { token: extra.token } : {}) });
const frame = (topic: string, n: number): EncodedBroadcast => ({ topic, event: "tick", frame: JSON.stringify([null, null, topic, "tick", { n }]) });

function contract(name: string, setUp: () => Promise<Medium>) {
  describe(`leases: ${name}`, () => {
    let medium: Medium;
    beforeAll(async () => {
      medium = await setUp();
    });

    it("grants one holder with a fencing number, and tells others when to try again", async () => {
      const { a, b } = medium;
      const first = await claim(a, "A", { topic: "t:grant", ttlMs: LONG_TTL });
      expect(first.held).toBe(true);
      expect(first.token).toMatch(/^A\|\d+$/);
      expect(fenceOf(first.token)).toBeGreaterThan(0);
      const second = await claim(b, "B", { topic: "t:grant", ttlMs: LONG_TTL });
      expect(second).toMatchObject({ held: false, token: first.token, interest: 2 });
      expect(second.ttlLeft).toBeGreaterThan(0);
      expect(second.ttlLeft).toBeLessThanOrEqual(LONG_TTL);
    });

    it("extends only the holder's own token (compare-and-extend), and passes on once it expires", async () => {
      const { a, b } = medium;
      const first = await claim(a, "A", { topic: "t:renew" });
      expect((await claim(a, "A", { topic: "t:renew", token: first.token })).held).toBe(true);
      expect((await claim(b, "B", { topic: "t:renew", token: "B|1" })).held).toBe(false);
      // A stops renewing: B gets the lease after the TTL, with a larger fencing number.
      await medium.elapse(TTL + 50);
      const taken = await waitFor(async () => {
        const view = await claim(b, "B", { topic: "t:renew" });
        return view.held && view;
      }, "B to take the expired lease");
      expect(fenceOf(taken.token)).toBeGreaterThan(fenceOf(first.token));
      expect((await claim(a, "A", { topic: "t:renew", token: first.token })).held).toBe(false);
    });

    it("releases only its own lease, and only when idle if asked; a release is announced", async () => {
      const { a, b } = medium;
      const freed: string[] = [];
      // Announcements reach only those listening when they are made: with Redis, once B's node is
      // subscribed to them, which onFree resolves on.
      await b.onFree((topic) => freed.push(topic));
      const lease = await claim(a, "A", { topic: "t:release", interested: false, ttlMs: LONG_TTL });
      await claim(b, "B", { topic: "t:release", ttlMs: LONG_TTL });
      expect(await a.release({ topic: "t:release", token: lease.token, claimant: "A", ifIdle: true })).toBe("busy");
      await claim(b, "B", { topic: "t:release", interested: false, token: "-", ttlMs: LONG_TTL });
      expect(await a.release({ topic: "t:release", token: "A|1", claimant: "A", ifIdle: true })).toBe("lost");
      expect(await a.release({ topic: "t:release", token: lease.token, claimant: "A", ifIdle: true })).toBe("released");
      await waitFor(() => freed.includes("t:release"), "the release to be announced");
      expect((await claim(b, "B", { topic: "t:release", ttlMs: LONG_TTL })).held).toBe(true);
    });

    it("publishes and writes state only with the current token (fencing)", async () => {
      const { a, b } = medium;
      const old = await claim(a, "A", { topic: "t:fence" });
      await medium.elapse(TTL + 50);
      const current = await waitFor(async () => {
        const view = await claim(b, "B", { topic: "t:fence" });
        return view.held && view;
      }, "B to take over");
      // The old holder, back from a pause, tries: nothing happens.
      expect(await a.publish(old.token, frame("t:fence", 1))).toBe(false);
      expect(await a.writeState({ topic: "t:fence", token: old.token, name: "n", value: "1" })).toBe(false);
      expect(await a.readState("t:fence", "n")).toBeNull();
      expect(await b.writeState({ topic: "t:fence", token: current.token, name: "n", value: "2" })).toBe(true);
      expect(await a.readState("t:fence", "n")).toBe("2");
      expect(await b.publish(current.token, frame("t:fence", 2))).toBe(true);
      if (medium.receivedByB) {
        // Sent through A's node so that B's node receives it (a node drops its own echo).
        expect(await a.publish(current.token, frame("t:fence", 3))).toBe(true);
        await waitFor(() => medium.receivedByB?.some((m) => String(m.frame).includes('"n":3')), "the fenced broadcast at B");
        expect(medium.receivedByB.filter((m) => m.topic === "t:fence").map((m) => JSON.parse(m.frame as string)[4])).toEqual([{ n: 3 }]);
      }
    });

    it("counts live interest, and forgets interest that was not renewed", async () => {
      const { a, b } = medium;
      await claim(a, "A", { topic: "t:interest" });
      expect((await claim(b, "B", { topic: "t:interest" })).interest).toBe(2);
      expect((await claim(b, "B", { topic: "t:interest", interested: false, token: "-" })).interest).toBe(1);
      await medium.elapse(TTL + 50);
      await waitFor(async () => (await claim(b, "B", { topic: "t:interest", interested: false, token: "-" })).interest === 0, "A's interest to expire");
    });

    it("limits checkpoint state to a bounded number of names", async () => {
      const { a } = medium;
      const lease = await claim(a, "A", { topic: "t:state", ttlMs: LONG_TTL });
      for (let i = 0; i < 100; i++) expect(await a.writeState({ topic: "t:state", token: lease.token, name: `k${i}`, value: "1" })).toBe(true);
      await expect(a.writeState({ topic: "t:state", token: lease.token, name: "k100", value: "1" })).rejects.toThrow(/at most 100 state values/);
      expect(await a.writeState({ topic: "t:state", token: lease.token, name: "k0", value: "2" })).toBe(true);
    });
  });
}

contract("in memory", async () => {
  let now = 1_000_000;
  const leases = new MemoryLeases(() => now);
  return {
    a: leases,
    b: leases,
    elapse: async (ms) => {
      now += ms;
    },
  };
});

const opened = perFile();
const fabric = (url: { url: string }, name: string, sharded = false): RedisFabric => opened.keep(testFabric(url, name, { sharded }), (f) => f.close());
/** A node's leases in Redis, on the connections and sender id its fabric was built with (leasesFor gives them the same). */
const leasesOf = (node: RedisFabric, sharded = false): Leases => new RedisLeases(node.connections, { sender: node.sender, sharded, channelOf: topicChannel });

let redis: RedisServer;
async function redisNodes(url: { url: string }, sharded: boolean): Promise<Medium> {
  const A = fabric(url, "A", sharded);
  // B asks Redis for new subscriptions in batches 250 ms apart: whatever is published before one
  // is in place is missed every time, not now and then, so no case can lean on a race.
  const B = opened.keep(testFabric(url, "B", { sharded, subscriptions: { batchMs: 250, lingerMs: 50 } }), (f) => f.close());
  for (const fabric of [A, B]) await waitConnected(fabric.connections, "node", 10_000);
  const receivedByB: EncodedBroadcast[] = [];
  B.onBroadcast((message) => receivedByB.push(message));
  await B.setInterest("t:fence", true);
  return { a: leasesOf(A, sharded), b: leasesOf(B, sharded), receivedByB, elapse: () => Promise.resolve() };
}

contract("in Redis", async () => {
  redis = await opened.redis();
  return redisNodes(redis, false);
});

let cluster: RedisCluster;
contract("in a Redis Cluster with sharded pub/sub", async () => {
  cluster = await opened.redisCluster({ masters: 3 });
  return redisNodes(cluster, true);
});

describe("fencing numbers", () => {
  it("keep growing after the counter was lost (Redis restarted empty)", async () => {
    const node = fabric(redis, "F");
    await waitConnected(node.connections, "F");
    const leases = leasesOf(node);
    const first = await leases.claim({ topic: "t:restart", claimant: "F", ttlMs: 60_000, interested: true });
    await node.connections.publisher.flushall();
    const second = await leases.claim({ topic: "t:restart", claimant: "F", ttlMs: 60_000, interested: true });
    expect(second.held).toBe(true);
    expect(fenceOf(second.token)).toBeGreaterThan(fenceOf(first.token));
  });
});

describe("checkpoint state without Redis", () => {
  it("keeps at most MEMORY_STATE_TOPICS topics, forgetting the one written longest ago, and says so", async () => {
    let evicted = 0;
    const leases = new MemoryLeases(Date.now, () => evicted++);
    const write = async (topic: string) => {
      const { token } = await leases.claim({ topic, claimant: "A", ttlMs: 60_000, interested: true });
      expect(await leases.writeState({ topic, token, name: "n", value: "1" })).toBe(true);
    };
    for (let i = 0; i < MEMORY_STATE_TOPICS; i++) await write(`t:${i}`);
    expect(evicted).toBe(0);
    await write("t:one-more");
    expect(evicted).toBe(1);
    expect(await leases.readState("t:0", "n")).toBeNull();
    expect(await leases.readState("t:1", "n")).toBe("1");
    expect(await leases.readState("t:one-more", "n")).toBe("1");
  });
});
