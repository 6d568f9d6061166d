import { describe, expect, it } from "vitest";
import { broadcastChannelSubscribers } from "../../bench/lib/cluster-counters.js";
import { perFile } from "../support/opened.js";

const opened = perFile();

describe("the cluster benchmark's count of broadcast subscribers", () => {
  it("counts the connections subscribed to the benchmark's topic, not to Cinder's own topics", async () => {
    const redis = await opened.redis();
    const nodes = [opened.observer(redis), opened.observer(redis)];
    // As every node does: the benchmark's topic and the force-disconnect topic.
    for (const node of nodes) await node.subscribe("cinder:t:bench:0", "cinder:t:cinder:disconnect");
    expect(await broadcastChannelSubscribers(opened.observer(redis))).toBe(2);
  });
});
