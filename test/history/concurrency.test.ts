import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { hashTag } from "../../server/redis/hash-tag.js";
import { ok, type CinderServer, type ChannelHandler } from "../../server/index.js";
import { perFile, perTest } from "../support/opened.js";
import { RawClient, type RawFrame } from "../support/raw-client.js";
import type { RedisServer } from "../support/redis-server.js";
import { socketUrl } from "../support/server.js";
import { waitFor } from "../support/wait.js";
import { offsets as offsetsOf, type Recovery, type Since } from "./support.js";

// Two in-process nodes sharing a real redis-server: a join on B reads the topic's history from
// Redis (a real round trip) while A keeps publishing.
const file = perFile();
const opened = perTest();
let redis: RedisServer;
let A: CinderServer;
let B: CinderServer;

const history: ChannelHandler = { history: { size: 500, ttlMs: 60_000 }, join: () => ok() };

beforeAll(async () => {
  redis = await file.redis();
  const node = (name: string) => file.server({ nodeName: name, redisUrl: redis.url, channels: { "h:*": history } });
  [A, B] = await Promise.all([node("A"), node("B")]);
}, 30_000);

function joinFrame(topic: string, since?: Since): RawFrame {
  return ["j", "j", topic, "phx_join", since ? { _since: since } : {}];
}

const offsets = (client: RawClient) => offsetsOf(client, "msg");
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

let run = 0;

describe("broadcasts published while a client rejoins", () => {
  it("never leave a gap and never duplicate, whatever the interleaving", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 20 }),
        // Broadcasts sent while the rejoin is under way, each after 0–3 event-loop turns.
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 25 }),
        async (before, away, during) => {
          const topic = `h:run${run++}`;
          let published = 0;
          const publish = () => A.broadcast(topic, "msg", { n: ++published });
          const first = await RawClient.open(socketUrl(B));
          first.send(joinFrame(topic));
          const epoch = ((await first.reply("j"))[4] as { response: { _recovery: Recovery } }).response._recovery.e;
          for (let i = 0; i < before; i++) publish();
          await waitFor(() => offsets(first).length === before, "the first messages");
          first.close();
          await first.closed();
          for (let i = 0; i < away; i++) publish();

          const again = await RawClient.open(socketUrl(B));
          again.send(joinFrame(topic, { o: before, e: epoch }));
          for (const turns of during) {
            for (let t = 0; t < turns; t++) await nextTurn();
            publish();
          }
          const reply = (await again.reply("j"))[4] as { response: { _recovery: Recovery } };
          expect(reply.response._recovery.recovered).toBe(true);
          const all = () => [...offsets(first), ...offsets(again)];
          await waitFor(() => all().at(-1) === published, "every message", 10_000);
          again.close();
          expect(all()).toEqual(Array.from({ length: published }, (_, i) => i + 1));
        },
      ),
      { numRuns: 30 },
    );
  }, 120_000);
});

describe("one publisher's broadcasts", () => {
  it("are numbered in the order they were published, also while Redis has not loaded the script yet", async () => {
    const outside = opened.observer(redis);
    for (let round = 0; round < 5; round++) {
      const topic = `h:order${round}`;
      const client = await opened.raw(B);
      client.send(joinFrame(topic));
      await client.reply("j");
      // A Redis that lost its scripts (a restart, SCRIPT FLUSH), and a publisher in full flow.
      await outside.call("SCRIPT", "FLUSH");
      let n = 0;
      for (let turn = 0; turn < 30; turn++) {
        for (let i = 0; i < 10; i++) A.broadcast(topic, "msg", { n: ++n });
        await nextTurn();
      }
      await waitFor(() => offsets(client).length === n, "every message", 10_000);
      const inOrder = client.frames.filter((f) => f[3] === "msg").map((f) => (f[4] as { n: number }).n);
      expect(inOrder).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      client.close();
    }
  }, 60_000);
});

describe("a topic's history in Redis", () => {
  it("expires ttlMs after its last message: the channel's ttlMs is milliseconds", async () => {
    const outside = opened.observer(redis);
    const client = await opened.raw(B);
    client.send(joinFrame("h:ttl"));
    await client.reply("j");
    A.broadcast("h:ttl", "msg", { n: 1 });
    await waitFor(() => offsets(client).length === 1, "the message");
    client.close();
    // history: {ttlMs: 60_000}: each of the topic's keys lives at most a minute from now.
    for (const suffix of ["seq", "epoch", "s"]) {
      const left = await outside.pttl(`cinder:h:${hashTag("h:ttl")}:${suffix}`);
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(60_000);
    }
  });
});
