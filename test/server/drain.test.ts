import { beforeAll, describe, expect, it } from "vitest";
import { CLOSE } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perFile, perTest, type Opened } from "../support/opened.js";
import type { RawClient, RawFrame } from "../support/raw-client.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";

type Presences = Record<string, unknown>;

/** Opens `count` sockets on `target` that each join `topic` with presence as `m<i>`. */
async function members(opened: Opened, target: { port: number }, topic: string, count: number): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  for (let i = 0; i < count; i++) clients.push(await opened.joinedClient(target, topic, { user: `m${i}` }));
  return clients;
}

/** The batches a node logged while draining (its pino lines). */
function loggedBatches(output: string): Array<{ batch: number; planned: number; closed: number }> {
  return output
    .split("\n")
    .filter((line) => line.includes('"msg":"drain batch"'))
    .map((line) => JSON.parse(line) as { batch: number; planned: number; closed: number });
}

describe("staggered drain", () => {
  const file = perFile();
  const opened = perTest();
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await file.redis();
  });

  it("closes a node's sockets in batches, and their presences leave another node's list a batch at a time", async () => {
    // 30 sockets, 3 intervals in the period: batches of 10.
    const draining = await opened.server({ redisUrl: redis.url, nodeName: "drained", drainPeriod: 3000, drainBatchInterval: 1000, drainBatchSize: 1 });
    const staying = await opened.server({ redisUrl: redis.url, nodeName: "staying" });
    const observer = await opened.raw(staying);
    const present = new Set<string>();
    const events: Array<"close" | "leave"> = [];
    observer.ws.on("message", (data) => {
      const [, , topic, event, payload] = JSON.parse(data.toString()) as RawFrame;
      if (topic !== "room:drain") return;
      if (event === "presence_state") for (const key of Object.keys(payload as Presences)) present.add(key);
      if (event !== "presence_diff") return;
      const { joins, leaves } = payload as { joins: Presences; leaves: Presences };
      for (const key of Object.keys(joins)) present.add(key);
      for (const key of Object.keys(leaves)) {
        present.delete(key);
        events.push("leave");
      }
    });
    await observer.join("room:drain", { user: "observer" });
    const drained = await members(opened, draining, "room:drain", 30);
    for (const client of drained) client.ws.on("close", () => events.push("close"));
    await waitFor(() => present.size === 31, "every member in the other node's list");

    await draining.close();
    await waitFor(() => present.size === 1, "every drained member gone from the other node's list");

    for (const client of drained) expect(await client.closed()).toMatchObject({ code: CLOSE.goingAway });
    expect(await metricOf(draining, "cinder_drain_batches_total")).toBe(3);
    // The other node saw the first batch leave before the second was closed, and the second
    // before the third: the leaves went out as the sockets closed, not all at the end.
    const leavesBefore = (closeNumber: number) => {
      let closes = 0;
      let leaves = 0;
      for (const event of events) {
        if (event === "close" && ++closes === closeNumber) return leaves;
        if (event === "leave") leaves++;
      }
      return leaves;
    };
    expect(leavesBefore(11)).toBe(10);
    expect(leavesBefore(21)).toBe(20);
    expect(observer.closeEvent).toBeNull();
  }, 30_000);

  it.each([1, 2])("SIGTERM drains a node with %i worker(s) in logged batches, then it exits 0", async (workers) => {
    const node = await opened.node({ workers, env: { DRAIN_PERIOD: "2000", DRAIN_BATCH_INTERVAL: "500", DRAIN_BATCH_SIZE: "1" } });
    const sockets = await members(opened, node, "room:sigterm", 12);
    expect(await node.stop("SIGTERM")).toBe(0);
    for (const client of sockets) expect(await client.closed()).toMatchObject({ code: CLOSE.goingAway });
    const batches = loggedBatches(node.output);
    expect(batches.reduce((sum, batch) => sum + batch.closed, 0)).toBe(12);
    // One worker: 4 intervals in the period, 12 sockets, so 4 batches of 3.
    if (workers === 1) expect(batches.map((batch) => batch.closed)).toEqual([3, 3, 3, 3]);
    else expect(batches.length).toBeGreaterThan(2);
  }, 40_000);
});
