/**
 * A whole room joining at once: `--members` native sockets join one presence-tracking room of
 * the demo (`room:*`, WORKERS=1) within `--join-window-ms` (1 s), each following its presence
 * as phoenix.js does. Reports, per run: time from the first join until every member's list
 * holds all N (and until the last join reply), the node's peak RSS, the broadcast latency of a
 * chat in another room meanwhile (its push until its own broadcast returns, one every 20 ms),
 * and presence bytes received per member against the size of the final `presence_state`.
 *   npm run bench -- presence-storm [--members 2000] [--runs 3] [--server-dir DIR]
 *                                   [--join-window-ms 1000] [--timeout-s 120] [--max-rss-mb 8000]
 *                                   [--batch-bytes N]
 * `--server-dir` runs another checkout's build (DIR/dist/server/cli.js) with the same client, for
 * before/after figures. The node runs on core 0; the storm client and this process on core 1.
 * A run past --timeout-s or --max-rss-mb is stopped and reported as not finished.
 * `--batch-bytes` sets the node's presenceCatchUpBatchBytes (above the cork buffer it takes effect
 * only on a uWS build that releases a socket's send buffer; the summary says which build ran).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";

import { parseFlags } from "../lib/flags.js";
import { machineInfo } from "../lib/machine-info.js";
import { uwsCapabilities } from "../../server/native-uws.js";
import { catchUpBatchBytes, CORK_FIT_BATCH_BYTES } from "../../server/presence/catch-up-batch.js";
import { repoRoot } from "../lib/repo-root.js";
import { freePort } from "../lib/server-process.js";
import { median } from "../lib/stats.js";
import { runStormClient, type StormReport } from "../lib/storm-client.js";
import { UNLIMITED } from "../lib/targets.js";

const SERVER_CORE = 0;
const CLIENT_CORE = 1;

interface Run {
  report: StormReport | null;
  peakRssBytes: number;
  /** CPU time the node spent from the storm's start to its end, ms. */
  nodeCpuMs: number;
  killedForRss: boolean;
  latencies: number[];
  finalStateBytes: number;
}

async function startNode(dir: string, settings: Record<string, string>): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const port = await freePort();
  const child = spawn("taskset", ["-c", String(SERVER_CORE), process.execPath, join(dir, "dist", "server", "cli.js")], {
    env: { ...process.env, ...UNLIMITED, ...settings, PORT: String(port), HOST: "127.0.0.1", WORKERS: "1", LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-8000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const deadline = Date.now() + 20_000;
  while (!(await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`node did not start: ${output}`);
    await sleep(50);
  }
  return { child, port, output: () => output };
}

/** user + system CPU of a process, ms (CLK_TCK 100). */
function cpuMsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

function rssOf(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

function open(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket/websocket?vsn=2.0.0`);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

/** A chat in another room: a push every 20 ms, timed until its own broadcast returns. */
async function chatter(port: number, latencies: number[]): Promise<{ start(): void; stop(): void }> {
  const ws = await open(port);
  const sent = new Map<string, number>();
  let measuring = false;
  ws.on("message", (data: Buffer) => {
    const [, , , event, payload] = JSON.parse(data.toString()) as [unknown, unknown, string, string, { body?: string }];
    const at = event === "new_msg" && payload.body ? sent.get(payload.body) : undefined;
    if (at !== undefined && measuring) latencies.push(performance.now() - at);
    if (at !== undefined) sent.delete(payload.body as string);
  });
  ws.send(JSON.stringify(["1", "1", "room:elsewhere", "phx_join", { user: "probe", presence: false }]));
  let n = 0;
  const timer = setInterval(() => {
    const body = `m${n++}`;
    sent.set(body, performance.now());
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(["1", body, "room:elsewhere", "new_msg", { body }]));
  }, 20);
  return {
    start: () => void (measuring = true),
    stop: () => {
      measuring = false;
      clearInterval(timer);
      ws.close();
    },
  };
}

/**
 * Bytes of the room's full list as one presence_state frame, as a newcomer learns it once the
 * storm is over (a big list comes in parts: a presence_state, then presence_diffs joining the
 * rest); 0 if it has not learnt all `members` and itself within a minute.
 */
function finalStateBytes(port: number, topic: string, members: number): Promise<number> {
  return Promise.race([newcomerState(port, topic, members), sleep(60_000, 0, { ref: false })]);
}

type PresenceList = Record<string, unknown>;

async function newcomerState(port: number, topic: string, members: number): Promise<number> {
  const ws = await open(port);
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no full list for the newcomer")), 60_000);
      let list: PresenceList | null = null;
      ws.on("message", (data: Buffer) => {
        const head = data.subarray(0, 256).toString();
        if (head.includes('"presence_state"')) list = (JSON.parse(data.toString()) as [unknown, unknown, string, string, PresenceList])[4];
        else if (head.includes('"presence_diff"') && list) {
          const diff = (JSON.parse(data.toString()) as [unknown, unknown, string, string, { joins: PresenceList; leaves: PresenceList }])[4];
          Object.assign(list, diff.joins);
          for (const key of Object.keys(diff.leaves)) delete list[key];
        } else return;
        if (!list || Object.keys(list).length < members + 1) return;
        clearTimeout(timer);
        resolve(Buffer.byteLength(JSON.stringify(["1", null, topic, "presence_state", list])));
      });
      ws.send(JSON.stringify(["1", "1", topic, "phx_join", { user: "newcomer" }]));
    });
  } finally {
    ws.close();
  }
}

async function stormRun(dir: string, settings: Record<string, string>, members: number, joinWindowMs: number, timeoutSeconds: number, maxRssBytes: number): Promise<Run> {
  const node = await startNode(dir, settings);
  const pid = node.child.pid as number;
  const topic = "room:storm";
  const latencies: number[] = [];
  const probe = await chatter(node.port, latencies);
  let peak = 0;
  let killedForRss = false;
  const sampler = setInterval(() => {
    const { rss } = rssOf(pid);
    peak = Math.max(peak, rss);
    if (rss > maxRssBytes && !killedForRss) {
      killedForRss = true;
      node.child.kill("SIGKILL");
    }
  }, 50);
  let report: StormReport | null = null;
  let cpuAtStart = NaN;
  let nodeCpuMs = NaN;
  let stateBytes: Promise<number> = Promise.resolve(0);
  try {
    report = await runStormClient({
      port: node.port,
      topic,
      members,
      joinWindowMs,
      timeoutSeconds,
      holdMs: 5000,
      core: CLIENT_CORE,
      onStorm: () => {
        cpuAtStart = cpuMsOf(pid);
        probe.start();
      },
      onDone: () => {
        nodeCpuMs = cpuMsOf(pid) - cpuAtStart;
        probe.stop();
        // While the members are still in the room: the size of its full list.
        stateBytes = finalStateBytes(node.port, topic, members).catch(() => 0);
      },
    });
  } catch (err) {
    if (!killedForRss) throw err;
  }
  probe.stop();
  clearInterval(sampler);
  peak = Math.max(peak, rssOf(pid).hwm);
  const finalBytes = await stateBytes;
  node.child.kill("SIGKILL");
  return { report, peakRssBytes: peak, nodeCpuMs, killedForRss, latencies, finalStateBytes: finalBytes };
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const ms = (n: number) => (Number.isFinite(n) ? `${n >= 10_000 ? (n / 1000).toFixed(1) + " s" : Math.round(n) + " ms"}` : "–");
const mb = (n: number) => `${Math.round(n / (1024 * 1024))} MB`;

export async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args);
  const members = flags.number("members", 2000);
  const runs = flags.number("runs", 1);
  const dir = flags.string("server-dir", repoRoot());
  const joinWindowMs = flags.number("join-window-ms", 1000);
  const timeoutSeconds = flags.number("timeout-s", 120);
  const maxRssBytes = flags.number("max-rss-mb", 8000) * 1024 * 1024;
  const batchBytes = flags.number("batch-bytes", 0);
  const settings: Record<string, string> = batchBytes > 0 ? { PRESENCE_CATCH_UP_BATCH_BYTES: String(batchBytes) } : {};
  // This process runs the probe chat: beside the storm client, away from the node.
  spawn("taskset", ["-pc", String(CLIENT_CORE), String(process.pid)], { stdio: "ignore" });
  const results: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const result = await stormRun(dir, settings, members, joinWindowMs, timeoutSeconds, maxRssBytes);
    results.push(result);
    const r = result.report;
    const done = r && r.complete === members && !result.killedForRss;
    console.log(
      `run ${i + 1}: ${done ? `complete in ${ms(r.completeMaxMs)}` : `NOT complete (${r?.complete ?? 0}/${members} lists full${result.killedForRss ? `, node killed past ${mb(maxRssBytes)}` : ""})`}, ` +
        `last join reply ${ms(r?.lastJoinReplyMs ?? NaN)}, node CPU ${ms(result.nodeCpuMs)}, peak RSS ${mb(result.peakRssBytes)}, other room p50/p99 ${ms(percentile(result.latencies, 50))}/${ms(percentile(result.latencies, 99))}` +
        (r ? `, presence bytes per member ${Math.round(r.presenceBytesPerMember / 1024)} KiB (final state ${Math.round(result.finalStateBytes / 1024)} KiB), frames: ${r.stateFrames} states, ${r.diffFrames} diffs` : ""),
    );
  }
  const complete = results.filter((r) => r.report && r.report.complete === members && !r.killedForRss);
  const pick = (f: (r: Run) => number) => median(results.map(f));
  const summary = {
    members,
    runs,
    server: dir,
    node: process.version,
    uws: machineInfo().uws,
    // What the node writes at once: on a build that keeps send buffers, within the cork buffer.
    batchBytes: catchUpBatchBytes(batchBytes > 0 ? batchBytes : CORK_FIT_BATCH_BYTES, uwsCapabilities()).bytes,
    completeRuns: complete.length,
    completeMs: complete.length === runs ? pick((r) => r.report!.completeMaxMs) : null,
    lastJoinReplyMs: pick((r) => r.report?.lastJoinReplyMs ?? NaN),
    peakRssBytes: pick((r) => r.peakRssBytes),
    nodeCpuMs: pick((r) => r.nodeCpuMs),
    otherRoomP50Ms: pick((r) => percentile(r.latencies, 50)),
    otherRoomP99Ms: pick((r) => percentile(r.latencies, 99)),
    presenceBytesPerMember: pick((r) => r.report?.presenceBytesPerMember ?? NaN),
    finalStateBytes: complete.length > 0 ? median(complete.map((r) => r.finalStateBytes)) : null,
  };
  console.log(JSON.stringify(summary));
}
