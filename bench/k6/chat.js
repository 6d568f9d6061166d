// Chat: SOCKETS users spread over ROOMS rooms; each pushes new_msg every INTERVAL_MS; the
// room (sender included) receives it. Records push→reply latency and push→delivery latency.
//   k6 run -e URL=ws://127.0.0.1:4000/socket/websocket -e SOCKETS=2000 -e ROOMS=100 \
//          -e INTERVAL_MS=5000 -e DURATION=60s bench/k6/chat.js
import ws from "k6/ws";
import { check } from "k6";
import { Counter, Rate, Trend } from "k6/metrics";

import { bodySentAt, envInt, envStr, PhoenixSocket, socketUrl, timestampedBody, topicName } from "./lib/phoenix.js";
import { durationMs, vuInTest } from "./lib/segment.js";
import { summaryOutputs } from "./lib/summary.js";

const SOCKETS = envInt("SOCKETS", 500);
const ROOMS = envInt("ROOMS", 10);
const INTERVAL_MS = envInt("INTERVAL_MS", 2000);
const BODY_SIZE = envInt("BODY_SIZE", 100);
const RAMP = envStr("RAMP", "20s");
const DURATION = envStr("DURATION", "60s");
const HEARTBEAT_MS = envInt("HEARTBEAT_MS", 30000);

const messageLatency = new Trend("chat_message_latency", true);
const replyLatency = new Trend("chat_push_reply_latency", true);
const pushOk = new Rate("chat_push_ok");
const joinOk = new Rate("join_ok");
const sentMessages = new Counter("chat_messages_sent");
const receivedMessages = new Counter("chat_messages_received");

export const options = {
  scenarios: {
    chat: {
      executor: "ramping-vus",
      stages: [
        { duration: RAMP, target: SOCKETS },
        { duration: DURATION, target: SOCKETS },
      ],
      gracefulRampDown: "5s",
    },
  },
  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
  thresholds: {
    chat_message_latency: ["p(95)<200", "p(99)<500"],
    chat_push_reply_latency: ["p(95)<200"],
    chat_push_ok: ["rate>0.999"],
    join_ok: ["rate>0.999"],
  },
};

export function setup() {
  return { endsAt: Date.now() + durationMs(RAMP) + durationMs(DURATION) };
}

export default function (data) {
  // Numbered test-wide: split over k6 processes, the rooms fill as in one.
  const user = `chat.${vuInTest()}`;
  const room = topicName(vuInTest() % ROOMS);
  const res = ws.connect(socketUrl(user, vuInTest()), {}, (socket) => {
    const phx = new PhoenixSocket(socket);
    socket.on("open", () => {
      const joinRef = phx.join(room, { user, presence: false }, (status) => {
        joinOk.add(status === "ok");
        if (status !== "ok") return;
        // Random phase so pushes do not arrive in lockstep.
        socket.setTimeout(() => {
          socket.setInterval(() => {
            phx.push(joinRef, room, "new_msg", { body: timestampedBody(BODY_SIZE) }, (st, ms) => {
              pushOk.add(st === "ok");
              replyLatency.add(ms);
            });
            sentMessages.add(1);
          }, INTERVAL_MS);
        }, Math.random() * INTERVAL_MS);
      });
      phx.startHeartbeat(HEARTBEAT_MS);
      socket.setTimeout(() => socket.close(), Math.max(1000, data.endsAt - Date.now()));
    });
    socket.on("message", (raw) => {
      const f = JSON.parse(raw);
      if (f[3] === "new_msg") {
        const at = bodySentAt(f[4].body);
        if (!isNaN(at)) messageLatency.add(Date.now() - at);
        receivedMessages.add(1);
      } else if (f[3] === "phx_reply") {
        phx.handleReply({ ref: f[1], event: f[3], payload: f[4] });
      }
    });
  });
  check(res, { "upgraded (101)": (r) => r && r.status === 101 });
}

export function handleSummary(summary) {
  return summaryOutputs(summary, "chat", { SOCKETS, ROOMS, INTERVAL_MS, BODY_SIZE, RAMP, DURATION }, []);
}
