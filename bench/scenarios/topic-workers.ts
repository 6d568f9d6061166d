/**
 * Topic workers: how fast a worker moves when its node dies or drains, what leases cost Redis,
 * and 10,000 workers on one node.
 *   npm run bench -- topic-workers [--runs 5] [--workers 10000] [--ttl 5000] [--window 20]
 *
 * Takeover: two nodes (WORKERS=1) and a redis-server; a client on each node joins one `tw:*`
 * topic, whose worker ticks every 100 ms; the holder is killed with SIGKILL (or drained with
 * SIGTERM) and the time until the other node's client hears the new worker is measured, from the
 * signal. Lease traffic: Redis's own command counts (INFO commandstats) over a window. Scale: one
 * node holding `--workers` idle workers (100 sockets × 100 topics) against the same
 * subscriptions on a channel without a worker: RSS, CPU and Redis commands per second.
 * Pinning: redis-server on core 0, the nodes on core 1, this process (the clients) unpinned.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";

import { startLocalCluster, type LocalCluster } from "../lib/cluster-processes.js";
import { parseFlags } from "../lib/flags.js";
import { fmtBytes } from "../lib/format.js";
import { sampleProcess } from "../lib/proc-stats.js";
import { repoRoot } from "../lib/repo-root.js";
import { freePort } from "../lib/server-process.js";
import { UNLIMITED, linkedTo } from "../lib/targets.js";
import { median } from "../lib/stats.js";

const APP = join(repoRoot(), "dist", "bench", "lib", "topic-worker-app.js");

interface Tick {
  node: string;
  fence: number;
  n: number;
}

interface Node {
  name: string;
  port: number;
  child: ChildProcess;
  pid: number;
}

async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function startNode(name: string, redisUrl: string, ttl: number, env: Record<string, string> = {}): Promise<Node> {
  const port = await freePort();
  const child = spawn("taskset", ["-c", "1", process.execPath, join(repoRoot(), "dist", "server", "cli.js"), "--app", APP], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", WORKERS: "1", LOG_LEVEL: "info", ...UNLIMITED, NODE_NAME: name, ...linkedTo(redisUrl), TOPIC_WORKER_TTL: String(ttl), ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-10_000)));
  await until(() => output.includes('"node started"') || child.exitCode !== null, `node ${name}`);
  if (child.exitCode !== null) throw new Error(`node ${name} exited: ${output}`);
  // taskset execs node in place: the pid is node's.
  return { name, port, child, pid: child.pid as number };
}

function stopNode(node: Node, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (node.child.exitCode !== null || node.child.signalCode !== null) return resolve();
    node.child.once("exit", () => resolve());
    node.child.kill(signal);
  });
}

/** A socket joined to `topics` (at most 100, the default channel limit), keeping the last tick per topic. */
async function joinTopics(port: number, topics: string[]): Promise<{ ws: WebSocket; last: Map<string, Tick & { at: number }> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket/websocket?vsn=2.0.0`);
  await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
  const last = new Map<string, Tick & { at: number }>();
  let replies = 0;
  ws.on("message", (data) => {
    const [, , topic, event, payload] = JSON.parse(data.toString()) as [unknown, unknown, string, string, unknown];
    if (event === "phx_reply") replies++;
    else if (event === "tick") last.set(topic, { ...(payload as Tick), at: performance.now() });
  });
  topics.forEach((topic, i) => ws.send(JSON.stringify([String(i), String(i), topic, "phx_join", {}])));
  await until(() => replies === topics.length, "joins");
  return { ws, last };
}

async function takeover(redisUrl: string, ttl: number, signal: NodeJS.Signals, run: number): Promise<number> {
  const nodes = [await startNode(`a${run}`, redisUrl, ttl), await startNode(`b${run}`, redisUrl, ttl)];
  const topic = `tw:takeover-${signal}-${run}`;
  const clients = await Promise.all(nodes.map((node) => joinTopics(node.port, [topic])));
  try {
    const first = await until(() => clients.every((c) => c.last.has(topic)) && clients[0].last.get(topic), "the first tick");
    const holder = nodes.find((node) => node.name === first.node) as Node;
    const survivor = clients[nodes.indexOf(holder) === 0 ? 1 : 0];
    // Wait for a tick just heard, so the signal falls at a random point of the lease.
    await sleep(Math.random() * ttl);
    const at = performance.now();
    const stopped = stopNode(holder, signal);
    const next = await until(() => {
      const tick = survivor.last.get(topic);
      return tick && tick.node !== holder.name && tick;
    }, "the new worker", 4 * ttl);
    await stopped;
    return next.at - at;
  } finally {
    for (const client of clients) client.ws.close();
    await Promise.all(nodes.map((node) => stopNode(node, "SIGKILL")));
  }
}

/** Redis commands run per second over `seconds` (INFO commandstats), by command. */
async function commandsPerSecond(cluster: LocalCluster, seconds: number): Promise<Map<string, number>> {
  const read = async () => {
    const info = await cluster.redis.info("commandstats");
    const counts = new Map<string, number>();
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts.set(match[1], Number(match[2]));
    return counts;
  };
  const before = await read();
  await sleep(seconds * 1000);
  const after = await read();
  const rates = new Map<string, number>();
  for (const [command, calls] of after) {
    const rate = (calls - (before.get(command) ?? 0)) / seconds;
    if (rate > 0 && command !== "info") rates.set(command, rate);
  }
  return rates;
}

const total = (rates: Map<string, number>) => [...rates.values()].reduce((a, b) => a + b, 0);
const describe = (rates: Map<string, number>) => [...rates].map(([c, r]) => `${c} ${r.toFixed(1)}/s`).join(", ");

async function leaseTraffic(cluster: LocalCluster, ttl: number, window: number): Promise<void> {
  const topics = Array.from({ length: 100 }, (_, i) => `tw:traffic-${i}`);
  const one = await startNode("solo", cluster.redisUrl, ttl, { BENCH_TICK_MS: "0" });
  const two = await startNode("peer", cluster.redisUrl, ttl, { BENCH_TICK_MS: "0" });
  try {
    const holderSide = await joinTopics(one.port, topics);
    await until(async () => Number((await cluster.redis.eval("return #redis.call('KEYS', 'cinder:tw:*:lease')", 0)) as number) === topics.length, "every lease held");
    const alone = await commandsPerSecond(cluster, window);
    const otherSide = await joinTopics(two.port, topics);
    await sleep(ttl);
    const shared = await commandsPerSecond(cluster, window);
    console.log(`\nLease traffic, ${topics.length} idle workers, TTL ${ttl} ms, ${window} s windows:`);
    console.log(`| subscribers on | Redis commands/s | per worker per second | by command |`);
    console.log(`|---|---:|---:|---|`);
    console.log(`| the holder's node only | ${total(alone).toFixed(0)} | ${(total(alone) / topics.length).toFixed(2)} | ${describe(alone)} |`);
    console.log(`| the holder's node and one other | ${total(shared).toFixed(0)} | ${(total(shared) / topics.length).toFixed(2)} | ${describe(shared)} |`);
    holderSide.ws.close();
    otherSide.ws.close();
  } finally {
    await stopNode(one, "SIGKILL");
    await stopNode(two, "SIGKILL");
  }
}

async function scale(cluster: LocalCluster, ttl: number, workers: number, window: number): Promise<void> {
  console.log(`\n${workers} idle topic workers on one node (TTL ${ttl} ms), against the same subscriptions without workers; ${window} s windows:`);
  console.log(`| channel | node RSS after joins | RSS − empty node | node CPU | Redis commands/s |`);
  console.log(`|---|---:|---:|---:|---:|`);
  await cluster.redis.flushall();
  for (const prefix of ["plain", "tw"]) {
    const node = await startNode(`scale-${prefix}`, cluster.redisUrl, ttl, { BENCH_TICK_MS: "0" });
    try {
      await sleep(1000);
      const empty = sampleProcess(node.pid).rssBytes;
      const sockets = [];
      for (let s = 0; s < workers / 100; s++) {
        sockets.push(await joinTopics(node.port, Array.from({ length: 100 }, (_, i) => `${prefix}:${s * 100 + i}`)));
      }
      if (prefix === "tw") {
        await until(async () => Number(await cluster.redis.dbsize()) >= workers * 2, "every lease", 120_000);
      }
      await sleep(ttl);
      const start = sampleProcess(node.pid);
      const rates = await commandsPerSecond(cluster, window);
      const end = sampleProcess(node.pid);
      const cpu = ((end.cpuSeconds - start.cpuSeconds) / window) * 100;
      console.log(`| ${prefix}:* | ${fmtBytes(end.rssBytes)} | ${fmtBytes(end.rssBytes - empty)} | ${cpu.toFixed(1)}% | ${total(rates).toFixed(0)} |`);
      for (const socket of sockets) socket.ws.close();
    } finally {
      await stopNode(node, "SIGKILL");
    }
  }
  const memory = await cluster.redis.info("memory");
  console.log(`Redis used_memory with ${workers} leases (and their fence and interest keys): ${fmtBytes(Number(/used_memory:(\d+)/.exec(memory)?.[1] ?? 0))}`);
}

export async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args);
  const runs = flags.number("runs", 5);
  const ttl = flags.number("ttl", 5000);
  const workers = flags.number("workers", 10_000);
  const window = flags.number("window", 20);
  const cluster = await startLocalCluster(0, 0);
  try {
    for (const signal of ["SIGKILL", "SIGTERM"] as const) {
      const times: number[] = [];
      for (let run = 0; run < runs; run++) {
        times.push(await takeover(cluster.redisUrl, ttl, signal, run));
        console.error(`  ${signal} run ${run + 1}/${runs}: ${times[run].toFixed(0)} ms`);
      }
      const what = signal === "SIGKILL" ? "kill -9" : "drain (SIGTERM)";
      console.log(`Takeover after ${what}, TTL ${ttl} ms, ${runs} runs: median ${median(times).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms (${times.map((t) => t.toFixed(0)).join(", ")})`);
    }
    await leaseTraffic(cluster, ttl, window);
    await scale(cluster, ttl, workers, window);
  } finally {
    await cluster.stop();
  }
}
