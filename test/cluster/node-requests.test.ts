/**
 * The node request lane through a real redis-server: a question reaches every other live node,
 * their answers come back to the asker only, a node that does not answer costs the timeout and
 * nothing more, and questions in flight are bounded.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { RedisFabric } from "../../server/fabric/fabric-redis.js";
import { askNodes, parseNodeAnswer, parseNodeQuestion, serveNodes, type NodeAnswer } from "../../server/dashboard/node-lane.js";
import { MAX_NODE_REQUESTS } from "../../server/fabric/node-questions.js";
import { fabricMetrics, type FabricMetrics } from "../../server/fabric/fabric-metrics.js";
import { metricGroup, metricOf } from "../support/metrics.js";
import { waitFor } from "../support/wait.js";
import { privateRedis, testFabric } from "./support.js";

const shared = privateRedis();
const LIVENESS = { ttlMs: 2000, refreshMs: 100, pollMs: 50 };
const fabrics: RedisFabric[] = [];

function node(name: string, metrics?: FabricMetrics): RedisFabric {
  const fabric = testFabric(shared.redis, name, { liveness: LIVENESS, metrics });
  fabric.start();
  fabrics.push(fabric);
  return fabric;
}

afterEach(async () => {
  await Promise.all(fabrics.splice(0).map((fabric) => fabric.close()));
});

const answersTopic = (name: string, subscribers: number) => async (): Promise<NodeAnswer> => ({ kind: "topic", node: name, subscribers });

describe("request lane between nodes", () => {
  it("asks every other live node and gets each one's answer", async () => {
    const asker = node("ask-a");
    serveNodes(node("ask-b"), answersTopic("ask-b", 7));
    serveNodes(node("ask-c"), answersTopic("ask-c", 3));
    serveNodes(asker, answersTopic("ask-a", 99)); // never asked of itself
    const answers = await waitFor(async () => {
      const got = await askNodes(asker, { kind: "topic", topic: "room:x" }, 1000);
      return got.length === 2 && got;
    }, "both other nodes to answer");
    expect(answers.sort((x, y) => ((x as { node: string }).node < (y as { node: string }).node ? -1 : 1))).toEqual([
      { kind: "topic", node: "ask-b", subscribers: 7 },
      { kind: "topic", node: "ask-c", subscribers: 3 },
    ]);
  });

  it("ends with the answers that came when a node stays silent, and bounds the questions in flight", async () => {
    const metrics = metricGroup(fabricMetrics);
    const asker = node("bound-a", metrics);
    node("bound-b").serve("node", async () => undefined); // alive, never answers
    const pending = () => metricOf(metrics, "cinder_fabric_node_requests_pending");
    // Once the asker sees the other node alive, a question waits for it (it is pending).
    await waitFor(async () => {
      const asked = askNodes(asker, { kind: "snapshot" }, 20);
      const waiting = (await pending()) === 1;
      await asked;
      return waiting;
    }, "the asker to see the other node");
    const questions = Array.from({ length: MAX_NODE_REQUESTS + 5 }, () => askNodes(asker, { kind: "snapshot" }, 2000));
    expect(await metricOf(metrics, "cinder_fabric_node_requests_refused_total", { side: "asked" })).toBe(5);
    expect(await pending()).toBe(MAX_NODE_REQUESTS);
    expect(await Promise.all(questions)).toEqual(questions.map(() => []));
    expect(await pending()).toBe(0);
  });

  it("asks one thread of another node on a feature's lane, and only that node answers", async () => {
    const asker = node("one-a");
    node("one-b").serve("echo", async (question) => ({ echoed: question, by: "one-b" }));
    node("one-c").serve("echo", async (question) => ({ echoed: question, by: "one-c" }));
    const answers = await waitFor(async () => {
      const got = await asker.ask("echo", { node: "one-b", worker: 0 }, "hello", 1000);
      return got.length === 1 && got;
    }, "the named node to answer");
    expect(answers).toEqual([{ echoed: "hello", by: "one-b" }]);
    expect(await asker.ask("unserved", { node: "one-b", worker: 0 }, "hello", 50)).toEqual([]);
  });

  it("refuses questions and answers that are not what the lane carries", () => {
    expect(parseNodeQuestion({ kind: "topic", topic: "room:lobby" })).toEqual({ kind: "topic", topic: "room:lobby" });
    expect(() => parseNodeQuestion({ kind: "topic", topic: "x".repeat(1025) })).toThrow();
    expect(() => parseNodeQuestion({ kind: "everything" })).toThrow();
    expect(() => parseNodeQuestion(["snapshot"])).toThrow();
    expect(() => parseNodeAnswer({ kind: "topic", node: "a" })).toThrow();
    expect(() => parseNodeAnswer({ kind: "snapshot", snapshot: {} })).toThrow();
  });
});
