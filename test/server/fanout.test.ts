import { describe, expect, it } from "vitest";
import { jsonSerializer, type EncodedFrame } from "../../client/codec/serializer.js";
import { loadNativeUws } from "../../server/native-uws.js";
import { createLogger } from "../../server/ops/logger.js";
import { pubsubMetrics } from "../../server/pubsub/pubsub-metrics.js";
import { metricGroup, metricOf } from "../support/metrics.js";
import { LocalFanout } from "../../server/pubsub/local-fanout.js";
import { PublishQueue } from "../../server/pubsub/publish-queue.js";
import type { Subscriber } from "../../server/pubsub/subscriber.js";

const log = createLogger("silent", "test");

/** A subscriber whose socket records its uWS topic memberships. */
function subscriber(topic: string): Subscriber & { topics: Set<string> } {
  const topics = new Set<string>();
  return {
    topic,
    topics,
    handler: {},
    deliverOut() {},
    socket: {
      id: `socket-${topic}-${topics.size}`,
      serializer: jsonSerializer,
      subscribe: (key) => void topics.add(key),
      unsubscribe: (key) => void topics.delete(key),
      publishFrom: () => false,
      bufferedBytes: 0,
      send: () => true,
      sendJsonFrame: () => undefined,
      closeSlow: () => undefined,
    },
  };
}

function setup() {
  const app = loadNativeUws().App();
  // uWS keeps its topics with its WebSocket routes: publishing before any route exists crashes it.
  app.ws("/*", {});
  const metrics = metricGroup(pubsubMetrics);
  const queue = new PublishQueue(app, log, () => metrics.sendFailures.inc());
  let route: () => void = () => {};
  const interest: Array<[string, boolean]> = [];
  const fanout = new LocalFanout({
    queue,
    log,
    metrics,
    fabric: {
      setInterest(topic, on) {
        interest.push([topic, on]);
        // The fabric takes a while to route a new topic here; the test says when it is done.
        if (on) return new Promise<void>((resolve) => (route = resolve));
      },
    },
    follower: { interest() {} },
  });
  return { fanout, queue, metrics, interest, routeNow: () => route() };
}

describe("LocalFanout", () => {
  it("makes every joiner of a topic wait until the fabric routes it here, not only the first", async () => {
    const { fanout, interest, routeNow } = setup();
    const first = subscriber("room:1");
    const second = subscriber("room:1");
    const attached: string[] = [];
    const firstReady = fanout.subscribe(first);
    const secondReady = fanout.subscribe(second);
    expect(firstReady).toBeInstanceOf(Promise);
    expect(secondReady).toBeInstanceOf(Promise);
    void Promise.resolve(firstReady).then(() => attached.push("first"));
    void Promise.resolve(secondReady).then(() => attached.push("second"));
    // Nothing is delivered to them, and their sockets are not subscribed, until the topic is routed.
    await Promise.resolve();
    expect(attached).toEqual([]);
    expect(second.topics.size).toBe(0);
    routeNow();
    await Promise.all([firstReady, secondReady]);
    expect(attached.sort()).toEqual(["first", "second"]);
    expect([...second.topics]).toEqual(["jroom:1"]);
    expect(interest).toEqual([["room:1", true]]);
  });

  it("forgets a joiner that leaves while the topic is being routed, and drops the interest it created", async () => {
    const { fanout, interest, routeNow } = setup();
    const leaving = subscriber("room:2");
    const ready = fanout.subscribe(leaving);
    fanout.unsubscribe(leaving);
    routeNow();
    await ready;
    expect(leaving.topics.size).toBe(0);
    expect(fanout.topicCount).toBe(0);
    expect(interest).toEqual([
      ["room:2", true],
      ["room:2", false],
    ]);
  });
});

describe("LocalFanout.setQuiet", () => {
  // uWS drops the publishes it has not yet written to a socket that leaves its last topic (the
  // socket leaves its topic tree, and its pending messages with it; see behindKey): a list
  // subscriber going quiet or back must never be between topics, or a broadcast queued for it
  // just before is lost.
  it("keeps the socket on a uWS topic at every step, going quiet and back", async () => {
    const { fanout, routeNow } = setup();
    const member = subscriber("room:q");
    const emptied: string[] = [];
    const { unsubscribe } = member.socket;
    member.socket.unsubscribe = (key) => {
      unsubscribe(key);
      if (member.topics.size === 0) emptied.push(key);
    };
    const ready = fanout.subscribe(member);
    routeNow();
    await ready;
    expect(fanout.setQuiet(member, true)).toBe(true);
    expect([...member.topics]).toEqual(["qroom:q"]);
    expect(fanout.setQuiet(member, false)).toBe(true);
    expect([...member.topics]).toEqual(["jroom:q"]);
    expect(emptied).toEqual([]);
  });
});

describe("PublishQueue", () => {
  it("goes on with the rest of a batch when one item fails, and counts the failure", async () => {
    const { queue, metrics } = setup();
    const ran: string[] = [];
    queue.run(() => ran.push("before"));
    queue.run(() => {
      throw new Error("one bad item");
    });
    queue.publish("jroom:x", { data: "[]", binary: false } satisfies EncodedFrame, null);
    queue.run(() => ran.push("after"));
    queue.flush();
    expect(ran).toEqual(["before", "after"]);
    expect(await metricOf(metrics, "cinder_queued_send_failures_total")).toBe(1);
  });
});
