/**
 * Fuzzing at scale: a node (the demo app, WORKERS=1, then 2) takes `--frames` frames from the
 * fuzz generator (bench/lib/fuzz-frames.ts) over `--sockets` lanes, each with a socket per
 * serializer that is opened again whenever the server closed it (most fuzz frames end their
 * socket, so this is also a reconnect storm), while a well-behaved client chats in its own room. Reports crashes (the
 * node or a worker going down: must be 0), the close codes seen, the node's RSS before and
 * after, and the well-behaved client's broadcast latency (its push until its own broadcast
 * comes back) during the fuzzing.
 *   npm run bench -- fuzz [--frames 1000000] [--sockets 64] [--workers 1,2]
 * The frame rate limit and the inbound byte budget are off (MAX_FRAMES_PER_SECOND=0,
 * MAX_INBOUND_BYTES_PER_SECOND=0) so that every frame is decoded; the node runs on core 1, this
 * process on core 0.
 */
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import WebSocket from "ws";

import { openV2Socket, startCliNode, type CliNode } from "../lib/cli-node.js";
import { fuzzFrame, type FuzzFrame } from "../lib/fuzz-frames.js";
import { parseFlags } from "../lib/flags.js";
import { fmtBytes } from "../lib/format.js";
import { sampleProcess } from "../lib/proc-stats.js";
import { median } from "../lib/stats.js";

const CHUNK = 5000;

interface Run {
  workers: number;
  frames: number;
  seconds: number;
  crashes: number;
  closes: Map<string, number>;
  rssBefore: number;
  rssAfter: number;
  latencies: number[];
}

function startNode(workers: number): Promise<CliNode> {
  return startCliNode({ workers, env: { LOG_LEVEL: "warn", MAX_FRAMES_PER_SECOND: "0", MAX_INBOUND_BYTES_PER_SECOND: "0" } });
}

/** The well-behaved user: a push every 50 ms in its own room, timed until its broadcast returns. */
async function chatter(port: number, latencies: number[]): Promise<() => void> {
  const ws = await openV2Socket(port, "json");
  const sent = new Map<string, number>();
  ws.on("message", (data: Buffer) => {
    const [, , , event, payload] = JSON.parse(data.toString()) as [unknown, unknown, string, string, { body?: string }];
    const at = event === "new_msg" && payload.body ? sent.get(payload.body) : undefined;
    if (at !== undefined) latencies.push(performance.now() - at);
  });
  ws.send(JSON.stringify(["1", "1", "room:probe", "phx_join", { user: "probe", presence: false }]));
  let n = 0;
  const timer = setInterval(() => {
    const body = `m${n++}`;
    sent.set(body, performance.now());
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(["1", body, "room:probe", "new_msg", { body }]));
  }, 50);
  return () => {
    clearInterval(timer);
    ws.close();
  };
}

async function fuzzRun(workers: number, frames: number, sockets: number, seed: number): Promise<Run> {
  const node = await startNode(workers);
  const pid = node.child.pid as number;
  const closes = new Map<string, number>();
  const latencies: number[] = [];
  const rssBefore = sampleProcess(pid).rssBytes;
  const stopChatter = await chatter(node.port, latencies);
  const started = performance.now();
  let sent = 0;
  let chunk = 0;
  let batch: FuzzFrame[] = [];
  const next = (): FuzzFrame | undefined => {
    if (sent >= frames || node.child.exitCode !== null) return undefined;
    if (batch.length === 0) batch = fc.sample(fuzzFrame, { numRuns: CHUNK, seed: seed + chunk++ });
    sent++;
    return batch.pop();
  };
  // Each lane keeps one socket per serializer and opens a new one whenever the server closed it.
  const lane = async (): Promise<void> => {
    const open: Partial<Record<FuzzFrame["serializer"], WebSocket>> = {};
    for (let frame = next(); frame; frame = next()) {
      let ws = open[frame.serializer];
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        ws = await openV2Socket(node.port, frame.serializer);
        ws.on("close", (code) => closes.set(String(code), (closes.get(String(code)) ?? 0) + 1));
        ws.on("error", () => undefined);
        open[frame.serializer] = ws;
      }
      ws.send(frame.data, { binary: frame.binary });
      // Let a close the frame caused arrive before this lane sends the next one.
      await new Promise((resolve) => setImmediate(resolve));
      while (ws.bufferedAmount > 1 << 20 && ws.readyState === WebSocket.OPEN) await sleep(1);
    }
    for (const ws of Object.values(open)) ws?.close();
  };
  await Promise.all(Array.from({ length: sockets }, lane));
  const seconds = (performance.now() - started) / 1000;
  stopChatter();
  await sleep(1000);
  const alive = node.child.exitCode === null;
  const rssAfter = alive ? sampleProcess(pid).rssBytes : 0;
  const crashes = (alive ? 0 : 1) + (node.output().match(/"msg":"worker crashed"/g)?.length ?? 0);
  node.child.kill("SIGKILL");
  return { workers, frames: sent, seconds, crashes, closes, rssBefore, rssAfter, latencies };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args);
  const frames = flags.number("frames", 1_000_000);
  const sockets = flags.number("sockets", 64);
  const workers = flags.numbers("workers", [1, 2]);
  console.log(`Fuzzing: ${frames} frames over ${sockets} lanes of reconnecting sockets per node; a well-behaved client pushes every 50 ms.`);
  console.log("| WORKERS | frames | frames/s | crashes | close codes (count) | RSS before → after | probe latency p50 / p99 / max |");
  console.log("|---:|---:|---:|---:|---|---|---|");
  for (const count of workers) {
    const result = await fuzzRun(count, frames, sockets, 42);
    const codes = [...result.closes].sort().map(([code, n]) => `${code} (${n})`).join(", ");
    const l = result.latencies;
    console.log(
      `| ${count} | ${result.frames} | ${Math.round(result.frames / result.seconds)} | ${result.crashes} | ${codes} | ${fmtBytes(result.rssBefore)} → ${fmtBytes(result.rssAfter)} | ${median(l).toFixed(1)} / ${percentile(l, 99).toFixed(1)} / ${Math.max(...l).toFixed(1)} ms (${l.length} pushes) |`,
    );
  }
}
