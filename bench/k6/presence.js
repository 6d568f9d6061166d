// Presence churn: MEMBERS sockets stay in one room and watch it; CHURN_RATE new members per
// second join, stay STAY_MS, and leave. Every watcher records how long each join and each
// leave took to reach it (presence_diff); the max over watchers is the time until every
// client has seen the change (one k6 host clock; several hosts need synchronised clocks).
//   k6 run -e URL=ws://127.0.0.1:4000/socket/websocket -e MEMBERS=2000 -e CHURN_RATE=20 \
//          -e DURATION=60s bench/k6/presence.js
import ws from "k6/ws";
import { check } from "k6";
import { Counter, Rate, Trend } from "k6/metrics";
import { envInt, envStr, PhoenixSocket, socketUrl } from "./lib/phoenix.js";
import { durationMs, iterationInTest, segmentOfThisProcess, vuInTest } from "./lib/segment.js";
import { summaryOutputs } from "./lib/summary.js";

const MEMBERS = envInt("MEMBERS", 500);
const CHURN_RATE = envInt("CHURN_RATE", 10); // joins per second (each followed by a leave)
const STAY_MS = envInt("STAY_MS", 2000);
const ROOM = envStr("ROOM", "room:k6-presence");
const RAMP = envStr("RAMP", "20s");
const DURATION = envStr("DURATION", "60s");
const HEARTBEAT_MS = envInt("HEARTBEAT_MS", 30000);

const joinSeen = new Trend("presence_join_seen", true);
const leaveSeen = new Trend("presence_leave_seen", true);
const joinsSeen = new Counter("presence_joins_seen");
const leavesSeen = new Counter("presence_leaves_seen");
const churns = new Counter("presence_churns");
const joinOk = new Rate("join_ok");
const stateReceived = new Rate("presence_state_received");

export const options = {
  scenarios: {
    members: {
      executor: "ramping-vus",
      exec: "member",
      stages: [
        { duration: RAMP, target: MEMBERS },
        { duration: DURATION, target: MEMBERS },
      ],
      gracefulRampDown: "5s",
    },
    churn: {
      executor: "constant-arrival-rate",
      exec: "churner",
      rate: CHURN_RATE,
      timeUnit: "1s",
      duration: DURATION,
      startTime: RAMP,
      preAllocatedVUs: Math.ceil((CHURN_RATE * (STAY_MS + 2000)) / 1000) + 5,
      maxVUs: Math.ceil((CHURN_RATE * (STAY_MS + 5000)) / 1000) + 20,
    },
  },
  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
  thresholds: {
    presence_join_seen: ["p(99)<1000", "max<3000"],
    presence_leave_seen: ["p(99)<1000", "max<3000"],
    join_ok: ["rate>0.999"],
    presence_state_received: ["rate>0.999"],
  },
};

export function setup() {
  return { endsAt: Date.now() + durationMs(RAMP) + durationMs(DURATION) };
}

// Churner keys carry their own timeline: churn.<joinSentMs>.<stayMs>.<vu>.<iter> (numbered
// test-wide, so the keys of several k6 processes never meet).
function churnTimes(key) {
  const p = key.split(".");
  if (p[0] !== "churn" || p.length < 3) return null;
  const joinAt = parseInt(p[1], 10);
  return { joinAt, leaveAt: joinAt + parseInt(p[2], 10) };
}

export function member(data) {
  const user = `member.${vuInTest()}`;
  ws.connect(socketUrl(user, vuInTest()), {}, (socket) => {
    const phx = new PhoenixSocket(socket);
    let gotState = false;
    socket.on("open", () => {
      phx.join(ROOM, { user }, (status) => {
        joinOk.add(status === "ok");
        socket.setTimeout(() => stateReceived.add(gotState), 5000);
      });
      phx.startHeartbeat(HEARTBEAT_MS);
      socket.setTimeout(() => socket.close(), Math.max(1000, data.endsAt - Date.now() + 5000));
    });
    socket.on("message", (raw) => {
      const f = JSON.parse(raw);
      const event = f[3];
      if (event === "presence_state") {
        gotState = true;
      } else if (event === "presence_diff") {
        const now = Date.now();
        for (const key of Object.keys(f[4].joins || {})) {
          const t = churnTimes(key);
          if (t) {
            joinSeen.add(now - t.joinAt);
            joinsSeen.add(1);
          }
        }
        for (const key of Object.keys(f[4].leaves || {})) {
          const t = churnTimes(key);
          if (t) {
            leaveSeen.add(Math.max(0, now - t.leaveAt));
            leavesSeen.add(1);
          }
        }
      } else if (event === "phx_reply") {
        phx.handleReply({ ref: f[1], event, payload: f[4] });
      }
    });
  });
}

export function churner() {
  const joinAt = Date.now();
  const user = `churn.${joinAt}.${STAY_MS}.${vuInTest()}.${iterationInTest()}`;
  const res = ws.connect(socketUrl(user, vuInTest()), {}, (socket) => {
    const phx = new PhoenixSocket(socket);
    socket.on("open", () => {
      const joinRef = phx.join(ROOM, { user }, (status) => joinOk.add(status === "ok"));
      churns.add(1);
      // Scheduled from the join send time, so the key's joinAt + stayMs is the leave time.
      socket.setTimeout(() => phx.leave(joinRef, ROOM), STAY_MS);
      socket.setTimeout(() => socket.close(), STAY_MS + 500);
    });
    socket.on("message", (raw) => {
      const f = JSON.parse(raw);
      if (f[3] === "phx_reply") phx.handleReply({ ref: f[1], event: f[3], payload: f[4] });
    });
  });
  check(res, { "churner upgraded (101)": (r) => r && r.status === 101 });
}

export function handleSummary(summary) {
  const m = summary.metrics;
  const n = m.presence_churns ? m.presence_churns.values.count : 0;
  const joins = m.presence_joins_seen ? m.presence_joins_seen.values.count : 0;
  const leaves = m.presence_leaves_seen ? m.presence_leaves_seen.values.count : 0;
  // Split over processes, the local churns reach every process's members: only the sum says.
  const line =
    segmentOfThisProcess() === null
      ? `churns ${n}: joins seen ${joins} / leaves seen ${leaves} of ~${n * MEMBERS} each ` +
        `(members that were still ramping miss some; compare at steady state)`
      : `this process: churns ${n}, joins seen ${joins}, leaves seen ${leaves}; the whole test: node bench/k6/combine.mjs <the summaries>`;
  const params = { MEMBERS, CHURN_RATE, STAY_MS, ROOM, RAMP, DURATION };
  return summaryOutputs(summary, "presence", params, [line]);
}
