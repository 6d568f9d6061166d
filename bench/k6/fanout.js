// Fan-out: SOCKETS subscribers, opened evenly over RAMP, each joined to all TOPICS topics; after
// SETTLE, PUBLISHERS sockets broadcast RATE messages/s each for DURATION (round-robin over the
// topics) with the send time in the body; subscribers stay DRAIN longer. Every subscriber
// records publish→receive latency, and every broadcast should reach every subscriber that had
// joined before the first one: deliveries = broadcasts × subscribers, missing ones counted.
// SOCKETS_PER_VU subscribers share one VU (k6's event-loop WebSocket API); several k6
// processes split one test with --execution-segment (README, "Split over several k6 processes").
//   k6 run -e URL=ws://127.0.0.1:4000/socket/websocket -e SOCKETS=5000 -e RATE=20 -e DURATION=60s bench/k6/fanout.js
import { Counter, Rate, Trend } from "k6/metrics";

import { LatencyHistogram } from "./lib/latency-histogram.js";
import { envInt, envNum, envStr, socketUrl, timestampedBody, topicName } from "./lib/phoenix.js";
import { durationMs, msUntilStart, segmentOfThisProcess, sharedStart, socketsOfThisVu, vusFor } from "./lib/segment.js";
import { poolCounters, rampedShare, runSocketPool } from "./lib/socket-pool.js";
import { summaryOutputs } from "./lib/summary.js";

const SOCKETS = envInt("SOCKETS", 1000);
const SOCKETS_PER_VU = envInt("SOCKETS_PER_VU", 100);
const TOPICS = envInt("TOPICS", 1);
const PUBLISHERS = envInt("PUBLISHERS", 1);
const RATE = envNum("RATE", 10); // broadcasts per second per publisher; 0.1 = one every 10 s
const BODY_SIZE = envInt("BODY_SIZE", 100);
const RAMP = envStr("RAMP", "20s");
const SETTLE = envStr("SETTLE", "5s"); // after the ramp, before the first broadcast
const DURATION = envStr("DURATION", "60s");
const DRAIN = envStr("DRAIN", "5s"); // after the last broadcast, before the subscribers close
const HEARTBEAT_MS = envInt("HEARTBEAT_MS", 30000);
const VUS = vusFor(SOCKETS, SOCKETS_PER_VU);
/** From setup() to the first connect: every process of a split run is past its own setup. */
const START_DELAY_MS = 2000;

const latency = new Trend("broadcast_latency", true);
const histogram = new LatencyHistogram("broadcast_latency");
const received = new Counter("broadcasts_received");
const sent = new Counter("broadcasts_sent");
const pushOk = new Rate("push_ok");
const joinOk = new Rate("join_ok");
const joined = new Counter("subscribers_joined");
const joinedLate = new Counter("subscribers_joined_late");
const publisherSockets = poolCounters("publisher_sockets");

const totalMs = START_DELAY_MS + [RAMP, SETTLE, DURATION, DRAIN].map(durationMs).reduce((a, b) => a + b, 0);
const maxDuration = `${Math.ceil((msUntilStart() + totalMs) / 1000) + 30}s`;

const scenarios = {
  subscribers: { executor: "per-vu-iterations", exec: "subscriber", vus: VUS, iterations: 1, maxDuration, gracefulStop: "10s" },
};
if (PUBLISHERS > 0) {
  scenarios.publishers = { executor: "per-vu-iterations", exec: "publisher", vus: PUBLISHERS, iterations: 1, maxDuration, gracefulStop: "10s" };
}

export const options = {
  scenarios,
  summaryTrendStats: ["count", "avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
  thresholds: {
    broadcast_latency: ["p(50)<50", "p(99)<500"],
    push_ok: ["rate>0.999"],
    join_ok: ["rate>0.999"],
    sockets_failed: ["count<1"],
    sockets_closed_early: ["count<1"],
    publisher_sockets_failed: ["count<1"],
    publisher_sockets_closed_early: ["count<1"],
  },
};

export function setup() {
  const startAt = sharedStart(START_DELAY_MS);
  const publishAt = startAt + durationMs(RAMP) + durationMs(SETTLE);
  const stopAt = publishAt + durationMs(DURATION);
  return { startAt, publishAt, stopAt, closeAt: stopAt + durationMs(DRAIN) };
}

function joinAll(phx, user, first, onJoined) {
  const refs = {};
  let ok = 0;
  for (let j = 0; j < TOPICS; j++) {
    const topic = topicName((first + j) % TOPICS);
    refs[topic] = phx.join(topic, { user, presence: false }, (status) => {
      joinOk.add(status === "ok");
      if (status === "ok" && ++ok === TOPICS && onJoined) onJoined();
    });
  }
  return refs;
}

/** Send time from a new_msg frame without parsing it: the body starts "t=<ms>;". */
function sentAtOf(raw) {
  const at = raw.indexOf('"t=');
  return at < 0 ? NaN : parseInt(raw.slice(at + 3, at + 20), 10);
}

export function subscriber(data) {
  const counted = {}; // socket number → true once joined before the first broadcast
  let deliveries = 0;
  // Object.assign: k6's script compiler has no object spread.
  runSocketPool(Object.assign(rampedShare(SOCKETS, VUS, data.startAt, durationMs(RAMP), (i) => `k6-fan-${i}`), {
    closeAt: data.closeAt,
    heartbeatMs: HEARTBEAT_MS,
    onOpen(phx, i) {
      joinAll(phx, `k6-fan-${i}`, i, () => {
        if (Date.now() < data.publishAt) {
          counted[i] = true;
          joined.add(1);
        } else {
          joinedLate.add(1);
        }
      });
    },
    onMessage(phx, i, raw) {
      if (raw.indexOf('"new_msg"') >= 0) {
        if (!counted[i]) return;
        const ms = Date.now() - sentAtOf(raw);
        latency.add(ms);
        histogram.add(ms);
        deliveries++;
      } else {
        const f = JSON.parse(raw);
        phx.handleReply({ ref: f[1], event: f[3], payload: f[4] });
      }
    },
    // Counts and buckets go to k6 once a tick, not once a message: a VU that k6 interrupts at
    // maxDuration loses at most one tick of them.
    onTick() {
      histogram.flush();
      if (deliveries > 0) received.add(deliveries);
      deliveries = 0;
    },
  }));
}

export function publisher(data) {
  let phx = null;
  let refs = {};
  let pushes = 0;
  runSocketPool({
    indices: socketsOfThisVu(PUBLISHERS, PUBLISHERS),
    openAt: () => data.startAt,
    closeAt: data.closeAt,
    url: (p) => socketUrl(`k6-pub-${p}`, p),
    heartbeatMs: HEARTBEAT_MS,
    counters: publisherSockets,
    onOpen(socket, p) {
      phx = socket;
      refs = joinAll(phx, `k6-pub-${p}`, 0);
    },
    onMessage(socket, p, raw) {
      const f = JSON.parse(raw);
      if (f[3] === "phx_reply") socket.handleReply({ ref: f[1], event: f[3], payload: f[4] });
    },
    // Broadcast k at publishAt + k/RATE, for every such time before stopAt; caught up tick by
    // tick (ticks are 50 ms apart).
    onTick(now) {
      if (phx === null || now < data.publishAt || now >= data.closeAt) return;
      const due = Math.floor(((Math.min(now, data.stopAt - 1) - data.publishAt) * RATE) / 1000) + 1;
      for (; pushes < due; pushes++) {
        const topic = topicName(pushes % TOPICS);
        phx.push(refs[topic], topic, "new_msg", { body: timestampedBody(BODY_SIZE) }, (status) => {
          pushOk.add(status === "ok");
          if (status === "ok") sent.add(1);
        });
      }
    },
  });
}

// Every subscriber joins every topic, so each broadcast should reach every subscriber that had
// joined before the first one.
export function handleSummary(summary) {
  const m = summary.metrics;
  const count = (name) => (m[name] ? m[name].values.count : 0);
  const got = count("broadcasts_received");
  const lines = [
    `subscribers: ${count("sockets_planned")} planned here (${SOCKETS} in the whole test), ${count("subscribers_joined")} joined before ` +
      `the first broadcast, ${count("subscribers_joined_late")} later, ${count("sockets_failed")} failed to connect, ` +
      `${count("sockets_closed_early")} closed early`,
  ];
  if (segmentOfThisProcess() === null) {
    const expected = count("broadcasts_sent") * count("subscribers_joined");
    lines.push(
      `broadcasts sent ${count("broadcasts_sent")}, deliveries ${got} of ${expected} expected, missing ${expected - got}` +
        (expected ? ` (${((100 * got) / expected).toFixed(3)} % delivered)` : ""),
    );
  } else {
    lines.push(
      `this process: broadcasts sent ${count("broadcasts_sent")}, deliveries ${got}; expected deliveries need every ` +
        `process's counts: node bench/k6/combine.mjs <the summaries>`,
    );
  }
  const params = { SOCKETS, SOCKETS_PER_VU, TOPICS, PUBLISHERS, RATE, BODY_SIZE, RAMP, SETTLE, DURATION, DRAIN };
  return summaryOutputs(summary, "fanout", params, lines);
}
