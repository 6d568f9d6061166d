// Presence join storm: MEMBERS sockets join one room within STORM seconds (spread evenly), and
// each watches its presence list (presence_state, then presence_diff). Records, per member, when
// its list first holds every member: the max of `storm_list_complete` is the time from the first
// join until every member's list was complete (one k6 host clock).
//   k6 run -e URL=ws://127.0.0.1:4000/socket/websocket -e MEMBERS=2000 -e STORM=5 bench/k6/presence-storm.js
import ws from "k6/ws";
import { check, sleep } from "k6";
import { Counter, Rate, Trend } from "k6/metrics";

import { envInt, envStr, PhoenixSocket, socketUrl } from "./lib/phoenix.js";
import { msUntilStart, segmentOfThisProcess, sharedStart, vuInTest } from "./lib/segment.js";
import { summaryOutputs } from "./lib/summary.js";

const MEMBERS = envInt("MEMBERS", 500);
const STORM = envInt("STORM", 5); // seconds over which the joins are spread
const HOLD = envInt("HOLD", 10); // seconds every member stays after the last join
const ROOM = envStr("ROOM", "room:k6-storm");
const HEARTBEAT_MS = envInt("HEARTBEAT_MS", 30000);
/** Joins start this long after setup, so every VU is ready and the storm is on schedule. */
const START_DELAY_MS = 2000;

const sinceStart = new Trend("storm_list_complete", true);
const sinceOwnJoin = new Trend("storm_list_complete_after_own_join", true);
const complete = new Rate("storm_list_completed");
const joinOk = new Rate("join_ok");
const diffs = new Counter("storm_presence_diffs");

export const options = {
  scenarios: {
    storm: {
      executor: "per-vu-iterations",
      vus: MEMBERS,
      iterations: 1,
      maxDuration: `${Math.ceil((msUntilStart() + START_DELAY_MS) / 1000) + STORM + HOLD + 30}s`,
    },
  },
  setupTimeout: "30s",
  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(99)"],
  thresholds: {
    join_ok: ["rate>0.999"],
    // Every member ends up with every other member in its list ...
    storm_list_completed: ["rate==1"],
    // ... within HOLD seconds of the last join.
    storm_list_complete: [`max<${(STORM + HOLD) * 1000}`],
  },
};

export function setup() {
  // Split over k6 processes, all must agree on the start (it names the room and times the joins).
  if (segmentOfThisProcess() !== null && envInt("START_AT", 0) <= 0) throw new Error("a split storm needs START_AT (epoch ms) on every process");
  const startAt = sharedStart(START_DELAY_MS);
  // A fresh room per run: members of an earlier run still leaving cannot count.
  return { startAt, room: `${ROOM}-${startAt}` };
}

export default function (data) {
  // idInTest is 1 … MEMBERS over all processes of a split run: the joins keep one schedule.
  const member = vuInTest();
  const user = `storm.${member}`;
  const joinAt = data.startAt + Math.floor(((member - 1) * STORM * 1000) / MEMBERS);
  const endsAt = data.startAt + (STORM + HOLD) * 1000;
  sleep(Math.max(0, joinAt - Date.now()) / 1000);
  const res = ws.connect(socketUrl(user, member), {}, (socket) => {
    const phx = new PhoenixSocket(socket);
    const present = {};
    let count = 0;
    let done = false;
    const add = (key) => {
      if (!present[key]) count++;
      present[key] = true;
    };
    const remove = (key) => {
      if (present[key]) count--;
      delete present[key];
    };
    const checkComplete = () => {
      if (done || count < MEMBERS) return;
      done = true;
      const now = Date.now();
      sinceStart.add(now - data.startAt);
      sinceOwnJoin.add(now - joinAt);
    };
    socket.on("open", () => {
      phx.join(data.room, { user }, (status) => joinOk.add(status === "ok"));
      phx.startHeartbeat(HEARTBEAT_MS);
      socket.setTimeout(() => {
        complete.add(done);
        socket.close();
      }, Math.max(1000, endsAt - Date.now()));
    });
    socket.on("message", (raw) => {
      const f = JSON.parse(raw);
      const event = f[3];
      if (f[2] === data.room && event === "presence_state") {
        // A state replaces the list (a big one comes in parts: the diffs after it join the rest).
        for (const key of Object.keys(present)) remove(key);
        for (const key of Object.keys(f[4])) add(key);
        checkComplete();
      } else if (f[2] === data.room && event === "presence_diff") {
        diffs.add(1);
        // Keys only (no metas): an update leaves and joins the same key, so leaves go first.
        for (const key of Object.keys(f[4].leaves || {})) remove(key);
        for (const key of Object.keys(f[4].joins || {})) add(key);
        checkComplete();
      } else if (event === "phx_reply") {
        phx.handleReply({ ref: f[1], event, payload: f[4] });
      }
    });
  });
  check(res, { "member upgraded (101)": (r) => r && r.status === 101 });
}

export function handleSummary(summary) {
  const m = summary.metrics;
  const completed = m.storm_list_completed ? m.storm_list_completed.values.passes : 0;
  const here = segmentOfThisProcess() === null ? "" : " of this process";
  const line = m.storm_list_complete
    ? `${completed} members${here} (${MEMBERS} in the whole test) saw the full list; the last one ` +
      `${m.storm_list_complete.values.max.toFixed(0)} ms after the first join (joins spread over ${STORM * 1000} ms)`
    : `no member${here} saw the full list of ${MEMBERS}`;
  return summaryOutputs(summary, "presence-storm", { MEMBERS, STORM, HOLD, ROOM }, [line]);
}
