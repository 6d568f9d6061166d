// Ramp to SOCKETS sockets, each joined to TOPICS topics, and hold them with heartbeats.
//   k6 run -e URL=ws://127.0.0.1:4000/socket/websocket -e SOCKETS=10000 -e TOPICS=10 \
//          -e RAMP=60s -e HOLD=120s bench/k6/subscribers.js
import ws from "k6/ws";
import { check } from "k6";
import { Counter, Rate, Trend } from "k6/metrics";

import { envInt, envStr, PhoenixSocket, socketUrl, topicName } from "./lib/phoenix.js";

const SOCKETS = envInt("SOCKETS", 1000);
const TOPICS = envInt("TOPICS", 1);
// Distinct topics; socket v joins topics (v*TOPICS + j) % TOPIC_SPACE, like the native client.
const TOPIC_SPACE = Math.max(envInt("TOPIC_SPACE", TOPICS), TOPICS);
const RAMP = envStr("RAMP", "30s");
const HOLD = envStr("HOLD", "60s");
const HEARTBEAT_MS = envInt("HEARTBEAT_MS", 30000);

const joinOk = new Rate("join_ok");
const joinLatency = new Trend("join_latency", true);
const socketsJoined = new Counter("sockets_fully_joined");
const closedEarly = new Counter("sockets_closed_early");

function seconds(d) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`bad duration ${d}`);
  return parseFloat(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
}

export const options = {
  scenarios: {
    subscribers: {
      executor: "ramping-vus",
      startVUs: 0,
      stages: [
        { duration: RAMP, target: SOCKETS },
        { duration: HOLD, target: SOCKETS },
      ],
      gracefulRampDown: "5s",
      gracefulStop: "10s",
    },
  },
  thresholds: {
    join_ok: ["rate>0.999"],
    join_latency: ["p(95)<1000", "p(99)<3000"],
    ws_connecting: ["p(95)<1000"],
    sockets_closed_early: ["count<1"],
  },
};

export function setup() {
  return { endsAt: Date.now() + (seconds(RAMP) + seconds(HOLD)) * 1000 };
}

export default function (data) {
  const user = `k6-sub-${__VU}`;
  const holdMs = Math.max(1000, data.endsAt - Date.now());
  let closedByUs = false;
  const res = ws.connect(socketUrl(user), {}, (socket) => {
    const phx = new PhoenixSocket(socket);
    socket.on("open", () => {
      let answered = 0;
      let ok = 0;
      for (let j = 0; j < TOPICS; j++) {
        const topic = topicName((__VU * TOPICS + j) % TOPIC_SPACE);
        phx.join(topic, { user, presence: false }, (status, ms) => {
          joinOk.add(status === "ok");
          joinLatency.add(ms);
          answered++;
          if (status === "ok") ok++;
          if (answered === TOPICS && ok === TOPICS) socketsJoined.add(1);
        });
      }
      phx.startHeartbeat(HEARTBEAT_MS);
      socket.setTimeout(() => {
        closedByUs = true;
        socket.close();
      }, holdMs);
    });
    socket.on("message", (data) => {
      const frame = JSON.parse(data);
      if (Array.isArray(frame)) phx.handleReply({ ref: frame[1], event: frame[3], payload: frame[4] });
    });
    socket.on("close", () => {
      if (!closedByUs) closedEarly.add(1);
    });
  });
  check(res, { "upgraded (101)": (r) => r && r.status === 101 });
}
