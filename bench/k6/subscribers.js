// SOCKETS sockets, opened evenly over RAMP, each joined to TOPICS topics and held HOLD with
// heartbeats. SOCKETS_PER_VU sockets share one VU (k6's event-loop WebSocket API), so one k6
// process holds as many sockets as its open-files limit allows; several processes split one
// test with --execution-segment (see README, "Split over several k6 processes").
//   k6 run -e URL=ws://127.0.0.1:4000/socket/websocket -e SOCKETS=10000 -e TOPICS=10 \
//          -e RAMP=60s -e HOLD=120s bench/k6/subscribers.js
import { Counter, Rate, Trend } from "k6/metrics";

import { envInt, envStr, topicName } from "./lib/phoenix.js";
import { durationMs, msUntilStart, sharedStart, vusFor } from "./lib/segment.js";
import { rampedShare, runSocketPool } from "./lib/socket-pool.js";
import { summaryOutputs } from "./lib/summary.js";

const SOCKETS = envInt("SOCKETS", 1000);
const SOCKETS_PER_VU = envInt("SOCKETS_PER_VU", 100);
const TOPICS = envInt("TOPICS", 1);
// Distinct topics; socket i joins topics (i*TOPICS + j) % TOPIC_SPACE, like the native client.
const TOPIC_SPACE = Math.max(envInt("TOPIC_SPACE", TOPICS), TOPICS);
const RAMP = envStr("RAMP", "30s");
const HOLD = envStr("HOLD", "60s");
const HEARTBEAT_MS = envInt("HEARTBEAT_MS", 30000);
const VUS = vusFor(SOCKETS, SOCKETS_PER_VU);
/** From setup() to the first connect: every process of a split run is past its own setup. */
const START_DELAY_MS = 2000;

const joinOk = new Rate("join_ok");
const joinLatency = new Trend("join_latency", true);
const socketsJoined = new Counter("sockets_fully_joined");

export const options = {
  scenarios: {
    subscribers: {
      executor: "per-vu-iterations",
      vus: VUS,
      iterations: 1,
      maxDuration: `${Math.ceil((msUntilStart() + START_DELAY_MS + durationMs(RAMP) + durationMs(HOLD)) / 1000) + 30}s`,
      gracefulStop: "10s",
    },
  },
  summaryTrendStats: ["count", "avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
  thresholds: {
    join_ok: ["rate>0.999"],
    join_latency: ["p(95)<1000", "p(99)<3000"],
    ws_connecting: ["p(95)<1000"],
    sockets_failed: ["count<1"],
    sockets_closed_early: ["count<1"],
  },
};

export function setup() {
  const startAt = sharedStart(START_DELAY_MS);
  return { startAt, closeAt: startAt + durationMs(RAMP) + durationMs(HOLD) };
}

export default function (data) {
  // Object.assign: k6's script compiler has no object spread.
  runSocketPool(Object.assign(rampedShare(SOCKETS, VUS, data.startAt, durationMs(RAMP), (i) => `k6-sub-${i}`), {
    closeAt: data.closeAt,
    heartbeatMs: HEARTBEAT_MS,
    onOpen(phx, i) {
      let ok = 0;
      for (let j = 0; j < TOPICS; j++) {
        const topic = topicName((i * TOPICS + j) % TOPIC_SPACE);
        phx.join(topic, { user: `k6-sub-${i}`, presence: false }, (status, ms) => {
          joinOk.add(status === "ok");
          joinLatency.add(ms);
          if (status === "ok" && ++ok === TOPICS) socketsJoined.add(1);
        });
      }
    },
    onMessage(phx, i, raw) {
      const f = JSON.parse(raw);
      if (Array.isArray(f)) phx.handleReply({ ref: f[1], event: f[3], payload: f[4] });
    },
    onTick() {},
  }));
}

export function handleSummary(summary) {
  const m = summary.metrics;
  const count = (name) => (m[name] ? m[name].values.count : 0);
  const line =
    `sockets: ${count("sockets_planned")} planned in this process (${SOCKETS} in the whole test), ` +
    `${count("sockets_opened")} opened, ${count("sockets_fully_joined")} joined every topic, ` +
    `${count("sockets_failed")} failed to connect, ${count("sockets_closed_early")} closed early`;
  return summaryOutputs(summary, "subscribers", { SOCKETS, SOCKETS_PER_VU, TOPICS, TOPIC_SPACE, RAMP, HOLD }, [line]);
}
