/**
 * Frames cheap to send and costly to decode: a node (the demo app, WORKERS=1, default
 * settings, on core 1) takes them from `--attackers` sockets for `--seconds`, each socket sending
 * its next frame as soon as the last one left and opening a new socket whenever the server
 * closed it, while a well-behaved client heartbeats every 20 ms. Shapes: 1 MB of empty msgpack
 * maps, 1 MB of small JSON objects, msgpack maps of a thousand distinct keys (the costliest
 * per byte found). Reports the node's event loop delay (monitorEventLoopDelay, preloaded from
 * bench/lib/loop-delay-probe.ts, so any build is measured the same way), the probe's heartbeat
 * round trip, the frames sent and the close codes the attackers got; medians over `--runs`.
 * `--before DIR` runs DIR's build (DIR/dist/server/cli.js) too, alternated in the same runs.
 * `--paced` sends frames that fit the default maxInboundBytesPerSecond instead, each socket at
 * that rate: what attackers staying within their budget still cost the node.
 *   npm run bench -- decode-flood [--attackers 4] [--seconds 8] [--runs 3] [--before DIR] [--paced]
 * This process pins itself to core 0.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { encode } from "@msgpack/msgpack";
import WebSocket from "ws";

import { DEFAULTS } from "../../server/config.js";
import { jsonTextCost, msgpackCost } from "../../server/pubsub/payload-depth.js";
import { openV2Socket, startCliNode, type CliNode } from "../lib/cli-node.js";
import { parseFlags } from "../lib/flags.js";
import { repoRoot } from "../lib/repo-root.js";
import { median } from "../lib/stats.js";

const PROBE = fileURLToPath(new URL("../lib/loop-delay-probe.js", import.meta.url));
const PROBER = new URL("../lib/heartbeat-prober.js", import.meta.url);
const FRAME_BYTES = 1_000_000;
const HEARTBEAT_MS = 20;

interface Shape {
  name: string;
  serializer: "json" | "msgpack";
  /** The frame's payload holding `n` of its items. */
  payload(n: number): Record<string, unknown>;
}

const SHAPES: Shape[] = [
  { name: "msgpack empty maps", serializer: "msgpack", payload: (n) => ({ a: Array.from({ length: n }, () => ({})) }) },
  { name: "JSON small objects", serializer: "json", payload: (n) => ({ a: Array.from({ length: n }, (_, i) => ({ k: i % 10 })) }) },
  {
    name: "msgpack 1000-key maps",
    serializer: "msgpack",
    payload: (n) => ({ a: Array.from({ length: Math.ceil(n / 1000) }, () => Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 1]))) }),
  },
];

const frameOf = (shape: Shape, n: number): Uint8Array | string => {
  const frame = ["1", "1", "room:flood", "new_msg", shape.payload(n)];
  return shape.serializer === "msgpack" ? encode(frame) : JSON.stringify(frame);
};
const sizeOf = (frame: Uint8Array | string) => (typeof frame === "string" ? frame.length : frame.byteLength);
/** What the inbound budget charges for a frame: its bytes plus its decode cost. */
const chargeOf = (frame: Uint8Array | string) => sizeOf(frame) + (typeof frame === "string" ? jsonTextCost(frame, 100) : msgpackCost(frame, 100));

/** The frame of the shape with the most items whose `measure` stays within `limit`. */
function largestFrame(shape: Shape, limit: number, measure: (frame: Uint8Array | string) => number): Uint8Array | string {
  let low = 1;
  let high = 4_000_000;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (measure(frameOf(shape, mid)) <= limit) low = mid;
    else high = mid - 1;
  }
  return frameOf(shape, low);
}

interface Side {
  label: string;
  cli: string;
}

interface Outcome {
  loopP50: number;
  loopP99: number;
  loopMax: number;
  rttP50: number;
  rttP99: number;
  rttMax: number;
  heartbeats: number;
  /** Heartbeats sent and not answered by the end (none, unless the node stalled or dropped them). */
  unanswered: number;
  frames: number;
  closes: Map<string, number>;
}

/** The node's loop delay since the last report (SIGUSR2 to the preloaded probe). */
async function loopDelay(node: CliNode): Promise<{ p50: number; p99: number; max: number }> {
  const before = node.output().length;
  node.child.kill("SIGUSR2");
  for (let i = 0; i < 500; i++) {
    const line = node.output().slice(before).split("\n").find((l) => l.startsWith('{"loopDelay"'));
    if (line) return (JSON.parse(line) as { loopDelay: { p50: number; p99: number; max: number } }).loopDelay;
    await sleep(20);
  }
  throw new Error("the node never reported its loop delay");
}

/** The well-behaved client, in a worker thread (bench/lib/heartbeat-prober.ts); the returned stop gives its round trips. */
async function prober(port: number): Promise<() => Promise<{ rtts: number[]; sent: number }>> {
  const worker = new Worker(PROBER, { workerData: { port, everyMs: HEARTBEAT_MS } });
  await new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  return async () => {
    const answer = new Promise<{ rtts: number[]; sent: number }>((resolve) =>
      worker.on("message", (message: { k: string; rtts: number[]; sent: number }) => message.k === "rtts" && resolve(message)),
    );
    worker.postMessage("stop");
    const figures = await answer;
    await worker.terminate();
    return figures;
  };
}

/** One attacker: sends `frame` (every `everyMs`, or back to back), on a new socket whenever the server closed the last. */
async function attack(port: number, shape: Shape, frame: Uint8Array | string, everyMs: number, until: number, outcome: Outcome): Promise<void> {
  let ws: WebSocket | undefined;
  while (performance.now() < until) {
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      ws = await openV2Socket(port, shape.serializer).catch(() => undefined);
      if (!ws) {
        await sleep(10);
        continue;
      }
      ws.on("close", (code) => outcome.closes.set(String(code), (outcome.closes.get(String(code)) ?? 0) + 1));
      ws.on("error", () => undefined);
    }
    const sentAt = performance.now();
    ws.send(frame, { binary: typeof frame !== "string" });
    outcome.frames++;
    // Back to back: the next frame once this one is in the kernel; paced: at the budget's rate.
    while (ws.bufferedAmount > 0 && ws.readyState === WebSocket.OPEN && performance.now() < until) await sleep(1);
    if (everyMs > 0) await sleep(Math.max(0, sentAt + everyMs - performance.now()));
  }
  ws?.removeAllListeners("close");
  ws?.terminate();
}

async function runOnce(side: Side, shape: Shape, attackers: number, seconds: number, paced: boolean): Promise<Outcome> {
  const node = await startCliNode({ workers: 1, cli: side.cli, nodeArgs: ["--import", PROBE], env: { LOG_LEVEL: "error" } });
  let rtts: number[] = [];
  let sent = 0;
  const outcome: Outcome = { loopP50: 0, loopP99: 0, loopMax: 0, rttP50: 0, rttP99: 0, rttMax: 0, heartbeats: 0, unanswered: 0, frames: 0, closes: new Map() };
  try {
    const rate = DEFAULTS.maxInboundBytesPerSecond;
    const burst = Math.max(rate, DEFAULTS.maxPayloadLength);
    const frame = paced ? largestFrame(shape, burst, chargeOf) : largestFrame(shape, FRAME_BYTES, sizeOf);
    // A quarter under the rate: a socket that keeps to its budget, give or take timers and a busy node.
    const everyMs = paced ? (chargeOf(frame) / (0.75 * rate)) * 1000 : 0;
    const stopProbe = await prober(node.port);
    await sleep(500);
    await loopDelay(node);
    const until = performance.now() + seconds * 1000;
    await Promise.all([sleep(seconds * 1000), ...Array.from({ length: attackers }, () => attack(node.port, shape, frame, everyMs, until, outcome))]);
    const delay = await loopDelay(node);
    ({ rtts, sent } = await stopProbe());
    Object.assign(outcome, { loopP50: delay.p50, loopP99: delay.p99, loopMax: delay.max });
  } finally {
    node.child.kill("SIGKILL");
  }
  const sorted = [...rtts].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
  Object.assign(outcome, { rttP50: at(0.5), rttP99: at(0.99), rttMax: sorted.at(-1) ?? NaN, heartbeats: rtts.length, unanswered: sent - rtts.length });
  return outcome;
}

export async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args);
  const attackers = flags.number("attackers", 4);
  const seconds = flags.number("seconds", 8);
  const runs = flags.number("runs", 3);
  const paced = flags.has("paced");
  const sides: Side[] = [];
  if (flags.has("before")) sides.push({ label: "before", cli: join(flags.string("before", ""), "dist", "server", "cli.js") });
  sides.push({ label: "after", cli: join(repoRoot(), "dist", "server", "cli.js") });
  spawnSync("taskset", ["-a", "-p", "-c", "0", String(process.pid)], { stdio: "ignore" });
  console.log(
    `${attackers} attacker sockets × ${seconds} s, ${paced ? "paced at the default maxInboundBytesPerSecond with frames that fit it" : "1 MB frames back to back, reconnecting when closed"}; ` +
      `a probe heartbeats every ${HEARTBEAT_MS} ms; node on core 1, clients on core 0; medians of ${runs} runs.`,
  );
  console.log("| shape | build | node loop delay p50 / p99 / max | probe heartbeat p50 / p99 / max | heartbeats answered (unanswered) | frames sent | attacker closes |");
  console.log("|---|---|---|---|---:|---:|---|");
  for (const shape of SHAPES) {
    const results = new Map<string, Outcome[]>(sides.map((side) => [side.label, []]));
    for (let i = 0; i < runs; i++) for (const side of sides) results.get(side.label)?.push(await runOnce(side, shape, attackers, seconds, paced));
    for (const side of sides) {
      const all = results.get(side.label) ?? [];
      const m = (pick: (o: Outcome) => number) => median(all.map(pick)).toFixed(1);
      const closes = new Map<string, number>();
      for (const o of all) for (const [code, n] of o.closes) closes.set(code, (closes.get(code) ?? 0) + n);
      const codes = [...closes].map(([code, n]) => `${code} ×${Math.round(n / all.length)}`).join(", ") || "none";
      console.log(
        `| ${shape.name} | ${side.label} | ${m((o) => o.loopP50)} / ${m((o) => o.loopP99)} / ${m((o) => o.loopMax)} ms | ${m((o) => o.rttP50)} / ${m((o) => o.rttP99)} / ${m((o) => o.rttMax)} ms | ${median(all.map((o) => o.heartbeats))} (${median(all.map((o) => o.unanswered))}) | ${median(all.map((o) => o.frames))} | ${codes} (per run) |`,
      );
    }
  }
}
