// Fan-out: SOCKETS subscribers joined to TOPICS topics; PUBLISHERS sockets broadcast RATE
// messages/s each (round-robin over the topics) with the send time in the body; every
// subscriber records publish→receive latency. "broadcast_complete" in the summary is the
// slowest subscriber, i.e. the time until every subscriber had the broadcast (same k6 host clock).
//   k6 run -e URL=ws://127.0.0.1:4000/socket/websocket -e SOCKETS=5000 -e RATE=20 -e DURATION=60s bench/k6/fanout.js
import ws from "k6/ws";
import { check } from "k6";
import { Counter, Rate, Trend } from "k6/metrics";

import { textSummary } from "./lib/summary.js";

import { bodySentAt, envInt, envStr, PhoenixSocket, socketUrl, timestampedBody, topicName } from "./lib/phoenix.js";

const SOCKETS = envInt("SOCKETS", 1000);
const TOPICS = envInt("TOPICS", 1);
const PUBLISHERS = envInt("PUBLISHERS", 1);
const RATE = envInt("RATE", 10); // broadcasts per second per publisher
const BODY_SIZE = envInt("BODY_SIZE", 100);
const RAMP = envStr("RAMP", "20s");
const DURATION = envStr("DURATION", "60s");
const HEARTBEAT_MS = envInt("HEARTBEAT_MS", 30000);

const latency = new Trend("broadcast_latency", true);
const received = new Counter("broadcasts_received");
const sent = new Counter("broadcasts_sent");
const pushOk = new Rate("push_ok");
const joinOk = new Rate("join_ok");

function seconds(d) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d);
  return parseFloat(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
}

export const options = {
  scenarios: {
    subscribers: {
      executor: "ramping-vus",
      exec: "subscriber",
      stages: [
        { duration: RAMP, target: SOCKETS },
        { duration: DURATION, target: SOCKETS },
      ],
      gracefulRampDown: "5s",
    },
    publishers: {
      executor: "constant-vus",
      exec: "publisher",
      vus: PUBLISHERS,
      startTime: RAMP, // publish once the subscribers are in
      duration: DURATION,
      gracefulStop: "5s",
    },
  },
  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
  thresholds: {
    broadcast_latency: ["p(50)<50", "p(99)<500"],
    push_ok: ["rate>0.999"],
    join_ok: ["rate>0.999"],
  },
};

export function setup() {
  return { endsAt: Date.now() + (seconds(RAMP) + seconds(DURATION)) * 1000 };
}

function joinAll(phx, user, first) {
  const refs = {};
  for (let j = 0; j < TOPICS; j++) {
    const topic = topicName((first + j) % TOPICS);
    refs[topic] = phx.join(topic, { user, presence: false }, (status) => joinOk.add(status === "ok"));
  }
  return refs;
}

export function subscriber(data) {
  const user = `k6-fan-${__VU}`;
  ws.connect(socketUrl(user), {}, (socket) => {
    const phx = new PhoenixSocket(socket);
    socket.on("open", () => {
      joinAll(phx, user, __VU);
      phx.startHeartbeat(HEARTBEAT_MS);
      socket.setTimeout(() => socket.close(), Math.max(1000, data.endsAt - Date.now() + 3000));
    });
    socket.on("message", (raw) => {
      const f = JSON.parse(raw);
      if (f[3] === "new_msg") {
        const at = bodySentAt(f[4].body);
        if (!isNaN(at)) latency.add(Date.now() - at);
        received.add(1);
      } else if (f[3] === "phx_reply") {
        phx.handleReply({ ref: f[1], event: f[3], payload: f[4] });
      }
    });
  });
}

export function publisher(data) {
  const user = `k6-pub-${__VU}`;
  ws.connect(socketUrl(user), {}, (socket) => {
    const phx = new PhoenixSocket(socket);
    let refs = {};
    let n = 0;
    socket.on("open", () => {
      refs = joinAll(phx, user, 0);
      phx.startHeartbeat(HEARTBEAT_MS);
      socket.setInterval(() => {
        const topic = topicName(n++ % TOPICS);
        phx.push(refs[topic], topic, "new_msg", { body: timestampedBody(BODY_SIZE) }, (status) => pushOk.add(status === "ok"));
        sent.add(1);
      }, 1000 / RATE);
      socket.setTimeout(() => socket.close(), Math.max(1000, data.endsAt - Date.now()));
    });
    socket.on("message", (raw) => {
      const f = JSON.parse(raw);
      if (f[3] === "phx_reply") phx.handleReply({ ref: f[1], event: f[3], payload: f[4] });
    });
  });
}

// Every subscriber socket should see every broadcast of its topics (plus publishers see their own).
export function handleSummary(summary) {
  const m = summary.metrics;
  const sentCount = m.broadcasts_sent ? m.broadcasts_sent.values.count : 0;
  const got = m.broadcasts_received ? m.broadcasts_received.values.count : 0;
  const perTopic = SOCKETS; // each subscriber joins every topic when TOPICS is the topic space
  const expected = sentCount * perTopic;
  const lines = [
    `broadcasts sent ${sentCount}, deliveries ${got} of ~${expected} expected (${expected ? ((100 * got) / expected).toFixed(2) : 0}%)`,
    m.broadcast_latency
      ? `latency p50 ${m.broadcast_latency.values["med"].toFixed(1)} ms, p99 ${(m.broadcast_latency.values["p(99)"] || 0).toFixed(1)} ms, ` +
        `max (≈ broadcast complete) ${m.broadcast_latency.values.max.toFixed(1)} ms`
      : "no deliveries",
  ];
  return {
    stdout: textSummary(summary, { indent: " " }) + "\n" + lines.join("\n") + "\n",
    "fanout-summary.json": JSON.stringify(summary, null, 2) };
}
