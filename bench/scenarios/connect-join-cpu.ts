/**
 * The servers' CPU per connect (WebSocket upgrade to open) and per join (phx_join to its reply):
 * one server process per target, each linked to its local redis-server as in one-topic; N sockets
 * connect (all at once, as the load client does), then each joins the one topic (presence off).
 * A server's CPU time is read from /proc/<pid>/task/<tid>/schedstat (nanoseconds) when the client
 * starts connecting, once all are connected, and once all joined; the user and system ticks of
 * /proc/<pid>/stat (10 ms each) are added up over all rounds for the split between the two.
 *   npm run bench -- connect-join-cpu [--sockets 2000] [--runs 5] [--warmup 4] [--rounds 3] [--targets cinder,raw-uws]
 *                                     [--before DIR] [--app demo|plain] [--no-pin] [--json]
 * A run starts one server per target and gives each --warmup unmeasured rounds first (the same
 * sockets connect, join and leave), so the figures are those of code V8 has compiled, as over most
 * of a large run, not of its compiling; then --rounds measured rounds, the targets taking turns
 * round by round, so a machine others are loading weighs on all of them alike. Medians of every
 * measured round, and of the ratio to raw uWS within each turn. `--before DIR` adds
 * "cinder-before": another checkout's build (DIR/dist/server/cli.js) with the same settings.
 * `--app plain` serves `bench:*` with the channel raw uWS serves (servers/plain-channel-app.ts)
 * instead of the demo app's.
 */
import { readFileSync } from "node:fs";
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

export interface PhaseCpu {
  target: string;
  run: number;
  round: number;
  connected: number;
  joined: number;
  /** server CPU µs per socket connected, and per socket joined */
  connect_us: number;
  join_us: number;
  /** /proc/<pid>/stat user and system ticks over connecting, and over joining */
  connect_ticks: { user: number; system: number };
  join_ticks: { user: number; system: number };
}

interface Server {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export interface Shape {
  sockets: number;
  app: string;
  before: string | undefined;
  pin: boolean;
}

export interface Counts {
  runs: number;
  /** unmeasured rounds per target at the start of each run */
  warmup: number;
  /** measured rounds per target in each run */
  rounds: number;
}

interface Sample {
  nanos: number;
  user: number;
  system: number;
}

/** utime and stime of /proc/<pid>/stat, in ticks (fields 14 and 15, counted after the command's closing parenthesis). */
function ticks(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

function sample(pid: number): Sample {
  return { nanos: processCpuNanos(pid), ...ticks(pid) };
}

async function startTarget(target: string, shape: Shape): Promise<Server> {
  const core = shape.pin ? SERVER_CORE : undefined;
  if (target === "raw-uws") {
    const group = await startRawUwsGroup(1, core, shape.pin ? String(SERVER_CORE) : undefined);
    return { port: group.port, pid: group.pids[0], stop: () => group.stop() };
  }
  const checkout = target === "cinder-before" ? (shape.before ?? "") : repoRoot();
  const appArgs = shape.app === "plain" ? ["--app", join(repoRoot(), "dist", "bench", "servers", "plain-channel-app.js")] : [];
  const cluster = await startLocalCluster(1, core, true, { cli: join(checkout, "dist", "server", "cli.js"), args: appArgs });
  return { port: cluster.port, pid: cluster.nodePids[0], stop: () => cluster.stop() };
}

/** N sockets connect, join and leave; `onPhase` is called at each of the client's phases. */
function load(server: Server, shape: Shape, onPhase: (phase: string) => void = () => {}) {
  return runNativeClient(
    {
      port: server.port,
      path: "/socket/websocket?vsn=2.0.0&user=bench",
      protocol: "phoenix",
      joinPayload: BENCH_JOIN_PAYLOAD,
      sockets: shape.sockets,
      topics: 1,
      inflight: [],
      step: true,
      core: shape.pin ? CLIENT_CORE : undefined,
    },
    onPhase,
  );
}

async function measureRound(target: string, server: Server, shape: Shape, run: number, round: number): Promise<PhaseCpu> {
  const at = new Map<string, Sample>();
  const report = await load(server, shape, (phase) => void at.set(phase, sample(server.pid)));
  await sleep(500); // the server closes the round's sockets before the next round
  const between = (from: string, to: string): Sample => {
    const a = at.get(from);
    const b = at.get(to);
    if (!a || !b) throw new Error(`${target}: no sample at ${a ? to : from}`);
    return { nanos: b.nanos - a.nanos, user: b.user - a.user, system: b.system - a.system };
  };
  const connecting = between("connecting", "connected");
  const joining = between("connected", "joined");
  const connected = report.connect.connected;
  const joined = report.join.joined_sockets;
  return {
    target,
    run,
    round,
    connected,
    joined,
    connect_us: connected > 0 ? connecting.nanos / 1000 / connected : 0,
    join_us: joined > 0 ? joining.nanos / 1000 / joined : 0,
    connect_ticks: { user: connecting.user, system: connecting.system },
    join_ticks: { user: joining.user, system: joining.system },
  };
}

/** Every measured round of every run, each target's, in the order measured. */
export async function measureAll(args: string[]): Promise<{ results: PhaseCpu[]; targets: string[]; shape: Shape; counts: Counts }> {
  const f = parseFlags(args);
  const counts: Counts = { runs: f.number("runs", 5), warmup: f.number("warmup", 4), rounds: f.number("rounds", 3) };
  const app = f.string("app", "demo");
  if (app !== "demo" && app !== "plain") throw new Error(`--app demo or plain, not ${app}`);
  const before = f.has("before") ? f.string("before", "") : undefined;
  const shape: Shape = { sockets: f.number("sockets", 2000), app, before, pin: !f.has("no-pin") };
  const targets = f.strings("targets", ["cinder", "raw-uws"]);
  if (before !== undefined) targets.push("cinder-before");
  const results: PhaseCpu[] = [];
  for (let i = 0; i < counts.runs; i++) {
    const servers = new Map<string, Server>();
    try {
      for (const target of targets) servers.set(target, await startTarget(target, shape));
      await sleep(300); // startup work settles
      for (const [, server] of servers) {
        for (let w = 0; w < counts.warmup; w++) {
          await load(server, shape);
          await sleep(500);
        }
      }
      for (let round = 0; round < counts.rounds; round++) {
        for (const [target, server] of servers) {
          const r = await measureRound(target, server, shape, i, round);
          results.push(r);
          console.error(`run ${i + 1}/${counts.runs} round ${round + 1} ${target}: ${r.connected} connected, ${r.joined} joined; ${r.connect_us.toFixed(1)} µs/connect, ${r.join_us.toFixed(1)} µs/join`);
        }
      }
    } finally {
      await Promise.all([...servers.values()].map((s) => s.stop()));
    }
  }
  return { results, targets, shape, counts };
}

export async function run(args: string[]): Promise<void> {
  const { results, targets, shape, counts } = await measureAll(args);
  printSummary(results, targets, shape, counts);
  if (parseFlags(args).has("json")) console.log(JSON.stringify(results));
}

function printSummary(results: PhaseCpu[], targets: string[], shape: Shape, counts: Counts): void {
  console.log(
    `\n${shape.sockets} sockets, one server process per target linked to its redis-server, app ${shape.app}; ${counts.runs} run(s), each ${counts.warmup} unmeasured ` +
      `round(s) per target, then ${counts.rounds} measured, targets taking turns; server CPU µs per socket, medians (± half the spread); user share from /proc/<pid>/stat ticks over all rounds`,
  );
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
  const userShare = (t: { user: number; system: number }[]): number => {
    const user = t.reduce((n, x) => n + x.user, 0);
    const all = user + t.reduce((n, x) => n + x.system, 0);
    return all > 0 ? user / all : 0;
  };
  const raw = (r: PhaseCpu): PhaseCpu | undefined => results.find((x) => x.target === "raw-uws" && x.run === r.run && x.round === r.round);
  for (const target of targets) {
    const mine = results.filter((r) => r.target === target);
    const c = mine.map((r) => r.connect_us);
    const j = mine.map((r) => r.join_us);
    const paired = target === "raw-uws" ? [] : mine.flatMap((r) => {
      const base = raw(r);
      return base ? [{ connect: r.connect_us / base.connect_us, join: r.join_us / base.join_us }] : [];
    });
    const ratios = paired.length > 0 ? `   ÷ raw uWS, same turn: connect ${median(paired.map((p) => p.connect)).toFixed(2)}, join ${median(paired.map((p) => p.join)).toFixed(2)}` : "";
    console.log(
      `${target.padEnd(14)} connect ${median(c).toFixed(1).padStart(6)} µs (±${pct(spread(c))}, user ${pct(userShare(mine.map((r) => r.connect_ticks)))})` +
        `   join ${median(j).toFixed(1).padStart(6)} µs (±${pct(spread(j))}, user ${pct(userShare(mine.map((r) => r.join_ticks)))})${ratios}`,
    );
  }
}
