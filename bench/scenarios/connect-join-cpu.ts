/**
 * The servers' CPU per connect (WebSocket upgrade to open) and per join (phx_join to its reply):
 * one server process per side, linked to a local redis-server as in one-topic, N sockets connect
 * (all at once, as the load client does), then each joins the one topic (presence off). The
 * server's CPU time is read from /proc/<pid>/task/<tid>/schedstat (nanoseconds; /proc/<pid>/stat
 * counts in 10 ms ticks) when the client starts connecting, once all are connected, and once all
 * joined, so a machine others are loading changes the wall time, not the figures. Before that,
 * --warmup times (default 2) the same sockets connect, join and leave unmeasured, so the figures
 * are those of code V8 has compiled, as over most of a large run, not of its compiling; then
 * --rounds times (default 3) measured, each its own figure.
 *   npm run bench -- connect-join-cpu [--sockets 2000] [--runs 5] [--warmup 2] [--rounds 3] [--targets cinder,raw-uws]
 *                                     [--before DIR] [--app demo|plain] [--no-pin] [--json]
 * Runs alternate the targets (a fresh server each); medians of every measured round of every run. `--before DIR` adds "cinder-before": another
 * checkout's build (DIR/dist/server/cli.js) with the same settings. `--app plain` serves `bench:*`
 * with the channel raw uWS serves (servers/plain-channel-app.ts) instead of the demo app's.
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { startLocalCluster } from "../lib/cluster-processes.js";
import { parseFlags } from "../lib/flags.js";
import { CLIENT_CORE, SERVER_CORE } from "../lib/measure.js";
import { runNativeClient } from "../lib/native-client.js";
import { startRawUwsGroup } from "../lib/raw-uws-group.js";
import { repoRoot } from "../lib/repo-root.js";
import { median, spread } from "../lib/stats.js";
import { BENCH_JOIN_PAYLOAD } from "../lib/targets.js";
import { processCpuNanos } from "../lib/thread-cpu.js";

interface PhaseCpu {
  target: string;
  connected: number;
  joined: number;
  /** server CPU µs per socket connected, and per socket joined */
  connect_us: number;
  join_us: number;
}

interface Server {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

async function startTarget(target: string, app: string, before: string | undefined, pin: boolean): Promise<Server> {
  const core = pin ? SERVER_CORE : undefined;
  if (target === "raw-uws") {
    const group = await startRawUwsGroup(1, core, pin ? String(SERVER_CORE) : undefined);
    return { port: group.port, pid: group.pids[0], stop: () => group.stop() };
  }
  const checkout = target === "cinder-before" ? (before ?? "") : repoRoot();
  const appArgs = app === "plain" ? ["--app", join(repoRoot(), "dist", "bench", "servers", "plain-channel-app.js")] : [];
  const cluster = await startLocalCluster(1, core, true, { cli: join(checkout, "dist", "server", "cli.js"), args: appArgs });
  return { port: cluster.port, pid: cluster.nodePids[0], stop: () => cluster.stop() };
}

interface Shape {
  sockets: number;
  warmup: number;
  rounds: number;
  app: string;
  before: string | undefined;
  pin: boolean;
}

async function measureOnce(target: string, shape: Shape): Promise<PhaseCpu[]> {
  const { sockets, pin } = shape;
  const server = await startTarget(target, shape.app, shape.before, pin);
  const load = (onPhase: (phase: string) => void) =>
    runNativeClient(
      {
        port: server.port,
        path: "/socket/websocket?vsn=2.0.0&user=bench",
        protocol: "phoenix",
        joinPayload: BENCH_JOIN_PAYLOAD,
        sockets,
        topics: 1,
        inflight: [],
        step: true,
        core: pin ? CLIENT_CORE : undefined,
      },
      onPhase,
    );
  try {
    await sleep(300); // startup work settles before the first sample
    for (let i = 0; i < shape.warmup; i++) {
      await load(() => {});
      await sleep(500); // the server closes the warm-up's sockets
    }
    const measured: PhaseCpu[] = [];
    for (let i = 0; i < shape.rounds; i++) {
      if (i > 0) await sleep(500);
      const at = new Map<string, number>();
      const report = await load((phase) => void at.set(phase, processCpuNanos(server.pid)));
      const cpu = (from: string, to: string): number => ((at.get(to) ?? 0) - (at.get(from) ?? 0)) / 1000;
      const connected = report.connect.connected;
      const joined = report.join.joined_sockets;
      measured.push({
        target,
        connected,
        joined,
        connect_us: connected > 0 ? cpu("connecting", "connected") / connected : 0,
        join_us: joined > 0 ? cpu("connected", "joined") / joined : 0,
      });
    }
    return measured;
  } finally {
    await server.stop();
  }
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const sockets = f.number("sockets", 2000);
  const runs = f.number("runs", 5);
  const warmup = f.number("warmup", 2);
  const rounds = f.number("rounds", 3);
  const app = f.string("app", "demo");
  if (app !== "demo" && app !== "plain") throw new Error(`--app demo or plain, not ${app}`);
  const before = f.has("before") ? f.string("before", "") : undefined;
  const targets = f.strings("targets", ["cinder", "raw-uws"]);
  if (before !== undefined) targets.push("cinder-before");
  const pin = !f.has("no-pin");
  const results: PhaseCpu[] = [];
  for (let i = 0; i < runs; i++) {
    for (const target of targets) {
      for (const r of await measureOnce(target, { sockets, warmup, rounds, app, before, pin })) {
        results.push(r);
        console.error(`run ${i + 1}/${runs} ${target}: ${r.connected} connected, ${r.joined} joined; ${r.connect_us.toFixed(1)} µs/connect, ${r.join_us.toFixed(1)} µs/join`);
      }
    }
  }
  console.log(`\n${sockets} sockets, one server process per side linked to redis-server, app ${app}, after ${warmup} unmeasured round(s); server CPU µs per socket, medians of ${runs} run(s) × ${rounds} round(s) (± half the spread)`);
  for (const target of targets) {
    const mine = results.filter((r) => r.target === target);
    const c = mine.map((r) => r.connect_us);
    const j = mine.map((r) => r.join_us);
    console.log(
      `${target.padEnd(14)} connect ${median(c).toFixed(1).padStart(7)} µs (±${(spread(c) * 100).toFixed(0)}%)   join ${median(j).toFixed(1).padStart(7)} µs (±${(spread(j) * 100).toFixed(0)}%)`,
    );
  }
  if (f.has("json")) console.log(JSON.stringify(results));
}
