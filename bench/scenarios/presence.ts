/**
 * Presence on one node: local op rate, memory per presence, delta merge throughput,
 * presence_state build time for a large topic, bytes on the wire per change, and what diff
 * coalescing saves in a join burst.
 * Medians of --runs repetitions. Run node with --expose-gc for exact memory figures.
 *   npm run bench -- presence [--presences 100000] [--members 10000] [--deltas 20000] [--runs 5]
 */
import { encode } from "@msgpack/msgpack";
import { performance } from "node:perf_hooks";
import { PresenceSet, clockToWire, fromWire, toWire, type PresenceSnapshot } from "../../crdt/index.js";
import type { HeartbeatMessage } from "../../server/presence/messages.js";
import { PresenceService } from "../../server/presence/presence-service.js";

interface Options {
  presences: number;
  members: number;
  deltas: number;
  runs: number;
}

function parseOptions(args: string[]): Options {
  const options: Options = { presences: 100_000, members: 10_000, deltas: 20_000, runs: 5 };
  for (let i = 0; i < args.length; i++) {
    const match = /^--(presences|members|deltas|runs)(?:=(.*))?$/.exec(args[i]);
    if (!match) continue;
    const value = Number(match[2] ?? args[++i]);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`--${match[1]} needs a positive integer`);
    options[match[1] as keyof Options] = value;
  }
  return options;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function repeat(runs: number, once: () => number): number {
  return median(Array.from({ length: runs }, once));
}

const gc = (globalThis as { gc?: () => void }).gc;
function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

function meta(i: number): Record<string, unknown> {
  return { online_at: 1_700_000_000 + i, device: "web" };
}

function service(): PresenceService {
  return new PresenceService({ nodeName: "bench", incarnation: "i1" });
}

/** Track then untrack `n` presences over 100 topics, one socket each. Returns ops/s. */
function trackUntrackRate(n: number): number {
  const presence = service();
  const start = performance.now();
  for (let i = 0; i < n; i++) presence.track(`sock${i}`, `room:${i % 100}`, `user${i}`, meta(i));
  for (let i = 0; i < n; i++) presence.untrackOwner(`sock${i}`);
  return (2 * n) / ((performance.now() - start) / 1000);
}

/** Kept reachable across the second heap reading, or the collector would free it first. */
const retained: PresenceService[] = [];

function bytesPerPresence(n: number): number {
  const before = heapUsed();
  const presence = service();
  retained.push(presence);
  for (let i = 0; i < n; i++) presence.track(`sock${i}`, `room:${i % 100}`, `user${i}`, meta(i));
  const after = heapUsed();
  retained.length = 0;
  return (after - before) / n;
}

/** Deltas as a peer would send them: each heartbeat carries a few joins and a leave. */
function makeDeltas(count: number): PresenceSnapshot[] {
  const source = new PresenceSet("peer#1");
  const deltas: PresenceSnapshot[] = [];
  let next = 0;
  for (let d = 0; d < count; d++) {
    for (let j = 0; j < 4; j++, next++) source.join(`room:${next % 100}`, `user${next}`, `sock${next}`, meta(next));
    const old = next - 100;
    if (old >= 0) source.leave(`room:${old % 100}`, `user${old}`, `sock${old}`);
    deltas.push(source.takeDelta()!);
  }
  return deltas;
}

function mergeRate(deltas: PresenceSnapshot[], decode: boolean): { deltasPerSecond: number; entriesPerSecond: number } {
  const wire = decode ? deltas.map((delta) => toWire(delta)) : [];
  const entries = deltas.reduce((sum, delta) => sum + delta.entries.length, 0);
  const seconds = repeatSeconds(() => {
    const target = new PresenceSet("local#1");
    const start = performance.now();
    if (decode) for (const item of wire) target.merge(fromWire(item));
    else for (const delta of deltas) target.merge(delta);
    return (performance.now() - start) / 1000;
  });
  return { deltasPerSecond: deltas.length / seconds, entriesPerSecond: entries / seconds };
}

let runsForMerge = 5;
function repeatSeconds(once: () => number): number {
  return repeat(runsForMerge, once);
}

function listTime(members: number, runs: number): number {
  const presence = service();
  for (let i = 0; i < members; i++) presence.track(`sock${i}`, "room:big", `user${i}`, meta(i));
  presence.list("room:big"); // warm up
  return repeat(Math.max(runs, 10), () => {
    const start = performance.now();
    presence.list("room:big");
    return performance.now() - start;
  });
}

function wireBytes(): { heartbeat: number; heartbeatIdle: number; diffFrame: number; updateFrame: number } {
  const presence = new PresenceService({ nodeName: "node-a", incarnation: "lrx7k2m0a9f3q" });
  let lastDiff = "";
  presence.onDiff((topic, diff) => {
    lastDiff = JSON.stringify([null, null, topic, "presence_diff", diff]);
  });
  const set = new PresenceSet("node-a#lrx7k2m0a9f3q");
  const joined = presence.track("sock-1", "room:lobby", "user:42", { online_at: 1_700_000_000, device: "web" });
  const trackedMeta = joined.ok ? joined.meta : {};
  set.join("room:lobby", "user:42", "sock-1", trackedMeta);
  const clock = new Map([
    ["node-a#lrx7k2m0a9f3q", 1],
    ["node-b#lrx7k2m1b8e2p", 10_000],
    ["node-c#lrx7k2m2c7d1o", 12_345],
  ]);
  const heartbeat: HeartbeatMessage = { type: "heartbeat", from: set.localReplica, clock: clockToWire(clock), delta: toWire(set.takeDelta()!), seq: 1234 };
  const idle: HeartbeatMessage = { ...heartbeat, delta: null };
  const diffFrame = Buffer.byteLength(lastDiff);
  presence.update("sock-1", "room:lobby", "user:42", { online_at: 1_700_000_000, device: "mobile" });
  return { heartbeat: encode(heartbeat).byteLength, heartbeatIdle: encode(idle).byteLength, diffFrame, updateFrame: Buffer.byteLength(lastDiff) };
}

/**
 * A join burst into one room: `joins` joins spread evenly over `spreadMs`, with diffs coalesced
 * over `windowMs`. Every presence_diff frame goes to every member, so frames × members is the
 * fan-out cost; the window is the extra delay a change may wait.
 */
async function coalescing(windowMs: number, joins: number, spreadMs: number): Promise<{ frames: number; bytes: number }> {
  const presence = new PresenceService({ nodeName: "bench", incarnation: "i1", diffCoalesceMs: windowMs });
  let frames = 0;
  let bytes = 0;
  presence.onDiff((topic, diff) => {
    frames++;
    bytes += Buffer.byteLength(JSON.stringify([null, null, topic, "presence_diff", diff]));
  });
  const started = performance.now();
  for (let i = 0; i < joins; i++) {
    const due = started + (i * spreadMs) / joins;
    while (performance.now() < due) await new Promise((r) => setImmediate(r));
    presence.track(`sock-${i}`, "room:big", `user:${i}`, meta(i));
  }
  await new Promise((r) => setTimeout(r, windowMs + 20));
  presence.stop();
  return { frames, bytes };
}

function fmt(value: number, digits = 0): string {
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export async function run(args: string[]): Promise<void> {
  const options = parseOptions(args);
  runsForMerge = options.runs;
  const rows: Array<[string, string, string]> = [];

  trackUntrackRate(Math.min(options.presences, 10_000)); // warm up the JIT
  const ops = repeat(options.runs, () => trackUntrackRate(options.presences));
  rows.push(["track + untrackOwner", `${fmt(ops)} ops/s`, `${fmt(options.presences)} presences, 100 topics`]);

  const memory = repeat(Math.min(options.runs, 3), () => bytesPerPresence(options.presences));
  rows.push(["memory per presence", `${fmt(memory)} B`, gc ? "heapUsed delta, with gc()" : "heapUsed delta, NO gc (run node --expose-gc for exact figures)"]);

  const deltas = makeDeltas(options.deltas);
  const merged = mergeRate(deltas, false);
  rows.push(["merge deltas", `${fmt(merged.deltasPerSecond)} deltas/s`, `${fmt(merged.entriesPerSecond)} entries/s (4 joins + 1 leave each)`]);
  const decoded = mergeRate(deltas, true);
  rows.push(["decode (fromWire) + merge", `${fmt(decoded.deltasPerSecond)} deltas/s`, `${fmt(decoded.entriesPerSecond)} entries/s`]);

  const listMs = listTime(options.members, options.runs);
  rows.push(["presence_state build (list)", `${fmt(listMs, 2)} ms`, `${fmt(options.members)} members in one topic`]);

  const bytes = wireBytes();
  rows.push(["heartbeat, one join (msgpack)", `${bytes.heartbeat} B`, "3-replica clock, meta {online_at, device, phx_ref}"]);
  rows.push(["heartbeat, idle (msgpack)", `${bytes.heartbeatIdle} B`, "same clock, no delta"]);
  rows.push(["presence_diff frame, one join (JSON)", `${bytes.diffFrame} B`, "V2 frame [null,null,topic,event,payload]"]);
  rows.push(["presence_diff frame, one update (JSON)", `${bytes.updateFrame} B`, "new meta in joins, old in leaves"]);

  for (const windowMs of [0, 10, 25, 50, 100]) {
    const { frames, bytes: total } = await coalescing(windowMs, 1000, 1000);
    rows.push([
      `diff coalescing ${windowMs} ms`,
      `${fmt(frames)} frames`,
      `1,000 joins in 1 s: ${fmt(total / 1024, 1)} KiB per member; deliveries = frames × members`,
    ]);
  }

  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length), ["measure", "median", "notes"][c].length));
  const line = (r: readonly string[]) => `${r[0].padEnd(widths[0])}  ${r[1].padStart(widths[1])}  ${r[2]}`;
  console.log(`presence benchmark (median of ${options.runs} runs; node ${process.version})`);
  console.log(line(["measure", "median", "notes"]));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(row));
}
