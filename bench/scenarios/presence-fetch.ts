/**
 * What a channel's presence fetch costs in a 10,000-member room, against the same room without
 * one. Medians of --runs repetitions; loopback only; bounded (every wait has a deadline); the
 * server and its sockets are closed after each run.
 *   npm run bench -- presence-fetch [--runs 3] [--members 10000] [--diffs 300]
 * - per diff: the thread's CPU time and the time from a change to a member holding it, one change
 *   at a time (presenceDiffCoalesceMs 0: each change is one diff, one fetch)
 * - per list: the time a new member takes to hold the whole list (one snapshot, one fetch of
 *   every entry), and how many fetch calls it took
 * The members are tracked server-side; two members watch over real WebSockets. The fetch adds
 * `user: {name}` to every entry: answering at once (what the fetch machinery costs: the order,
 * the slot, the timeout, the merge) and after a turn of the event loop, as a cached lookup would.
 */
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { createServer, ok, type CinderServer, type ChannelHandler, type PresenceFetch } from "../../server/index.js";
import { fmtMicros } from "../lib/format.js";
import { median } from "../lib/stats.js";

interface Options {
  runs: number;
  members: number;
  diffs: number;
}

function parseOptions(args: string[]): Options {
  const options: Options = { runs: 3, members: 10_000, diffs: 300 };
  for (let i = 0; i < args.length; i++) {
    const match = /^--(runs|members|diffs)(?:=(.*))?$/.exec(args[i]);
    if (!match) throw new Error(`unknown flag ${args[i]}`);
    const value = Number(match[2] ?? args[++i]);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`--${match[1]} needs a positive integer`);
    options[match[1] as keyof Options] = value;
  }
  return options;
}

const DEADLINE_MS = 60_000;
const TOPIC = "room:big";

type Entry = { metas: unknown[] } & Record<string, unknown>;

/** A member over a real WebSocket: the keys it holds, and a promise per key it waits for. */
class Watcher {
  readonly keys = new Set<string>();
  private readonly waits = new Map<string, () => void>();
  private listeners: Array<() => void> = [];
  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const [, , , event, payload] = JSON.parse(data.toString()) as [unknown, unknown, string, string, Record<string, unknown>];
      if (event === "presence_state") this.hold(payload as Record<string, Entry>);
      else if (event === "presence_diff") this.hold((payload as { joins: Record<string, Entry> }).joins);
    });
  }

  static async open(server: CinderServer, user: string): Promise<Watcher> {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket/websocket?vsn=2.0.0`);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const watcher = new Watcher(ws);
    ws.send(JSON.stringify(["1", "1", TOPIC, "phx_join", { user }]));
    return watcher;
  }

  /** Resolves once it holds `count` keys. */
  holding(count: number): Promise<void> {
    return this.until(() => this.keys.size >= count, `${count} keys`);
  }

  /** Resolves once it got a join of `key`. */
  joined(key: string): Promise<void> {
    return new Promise((resolve) => this.waits.set(key, resolve));
  }

  close(): void {
    this.ws.close();
  }

  private hold(entries: Record<string, Entry>): void {
    for (const key in entries) {
      this.keys.add(key);
      this.waits.get(key)?.();
      this.waits.delete(key);
    }
    for (const listener of this.listeners) listener();
  }

  private until(done: () => boolean, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`watcher: no ${what} within ${DEADLINE_MS} ms`)), DEADLINE_MS);
      const listener = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
        resolve();
      };
      this.listeners.push(listener);
    });
  }
}

type Mode = "none" | "at once" | "next turn";
const MODES: readonly Mode[] = ["none", "at once", "next turn"];

/** The fetch measured: every entry gets `user: {name}`, answered at once or after a turn of the event loop. */
function nameFetch(calls: { count: number }, mode: Mode): PresenceFetch | undefined {
  const names = (presences: Record<string, unknown>) => {
    calls.count++;
    const enriched: Record<string, { user: { name: string } }> = {};
    for (const key in presences) enriched[key] = { user: { name: `Name ${key}` } };
    return enriched;
  };
  if (mode === "none") return undefined;
  if (mode === "at once") return (_topic, presences) => names(presences);
  return (_topic, presences) => new Promise((resolve) => setImmediate(() => resolve(names(presences))));
}

function room(fetch: PresenceFetch | undefined): ChannelHandler {
  return {
    join: (_topic, params, socket) => {
      socket.assigns.user = String(params.user);
      return ok();
    },
    afterJoin(socket) {
      socket.pushPresenceState();
    },
    ...(fetch ? { presenceFetch: fetch } : {}),
  };
}

interface RunResult {
  cpuPerDiffUs: number;
  latencyP50Us: number;
  latencyP99Us: number;
  listMs: number;
  fetchCalls: number;
}

async function oneRun(options: Options, mode: Mode): Promise<RunResult> {
  const calls = { count: 0 };
  const server = await createServer({
    port: 0,
    logLevel: "silent",
    channels: { "room:*": room(nameFetch(calls, mode)) },
    presenceDiffCoalesceMs: 0,
    maxPresencePerSecond: 0,
  }).listen();
  const opened: Watcher[] = [];
  try {
    for (let i = 0; i < options.members; i++) server.presence.track(`owner-${i}`, TOPIC, `user-${i}`, { online_at: String(i), device: "web" });
    const watcher = await Watcher.open(server, "watcher");
    opened.push(watcher);
    await watcher.holding(options.members);

    // Per diff: one change at a time, each waited for at the watcher.
    const latencies: number[] = [];
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let d = 0; d < options.diffs; d++) {
      const key = `probe-${d}`;
      const arrived = watcher.joined(key);
      const t0 = performance.now();
      server.presence.track(`probe-owner-${d}`, TOPIC, key, { online_at: String(d), device: "web" });
      await arrived;
      latencies.push((performance.now() - t0) * 1000);
      if (performance.now() - started > DEADLINE_MS) throw new Error("diffs: over the deadline");
    }
    const cpu = process.cpuUsage(cpuBefore);
    latencies.sort((a, b) => a - b);

    // Per list: a new member holds the whole list (one snapshot).
    const callsBefore = calls.count;
    const t0 = performance.now();
    const late = await Watcher.open(server, "late");
    opened.push(late);
    await late.holding(options.members + options.diffs);
    const listMs = performance.now() - t0;
    return {
      cpuPerDiffUs: (cpu.user + cpu.system) / options.diffs,
      latencyP50Us: latencies[Math.floor(latencies.length / 2)],
      latencyP99Us: latencies[Math.floor(latencies.length * 0.99)],
      listMs,
      fetchCalls: calls.count - callsBefore,
    };
  } finally {
    for (const watcher of opened) watcher.close();
    await server.close();
  }
}

export async function run(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const results = new Map<Mode, RunResult[]>(MODES.map((mode) => [mode, []]));
  for (let r = 0; r < options.runs; r++) for (const mode of MODES) results.get(mode)!.push(await oneRun(options, mode));
  const cells = (pick: (r: RunResult) => number, show: (n: number) => string) => MODES.map((mode) => show(median(results.get(mode)!.map(pick))));
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  const rows: Array<[string, string[]]> = [
    ["CPU per diff (the whole process: server and both watchers)", cells((r) => r.cpuPerDiffUs, fmtMicros)],
    ["change → member holds it, p50", cells((r) => r.latencyP50Us, fmtMicros)],
    ["change → member holds it, p99", cells((r) => r.latencyP99Us, fmtMicros)],
    ["new member holds the whole list", cells((r) => r.listMs, ms)],
    ["fetch calls for that list", cells((r) => r.fetchCalls, String)],
  ];
  console.log(`presence fetch, ${options.members.toLocaleString("en")}-member room, ${options.diffs} diffs one at a time, median of ${options.runs} runs`);
  console.log(`${"fetch:".padEnd(62)}${MODES.map((mode) => mode.padStart(14)).join("")}`);
  for (const [what, row] of rows) console.log(`${what.padEnd(62)}${row.map((cell) => cell.padStart(14)).join("")}`);
}
