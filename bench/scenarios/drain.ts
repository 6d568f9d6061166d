/**
 * Staggered drain: the connect rate the surviving node sees when a node with N sockets drains
 * and every client reconnects to the other node (as phoenix.js does behind a load balancer:
 * 10 ms after the close, then with its backoff after each failed attempt). Default drain settings vs drainPeriod=0 (all at once), runs
 * alternated; each run starts both nodes afresh.
 *   npm run bench -- drain --sockets 10000 --runs 3
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { parseFlags } from "../lib/flags.js";
import { freePort } from "../lib/server-process.js";
import { median } from "../lib/stats.js";
import { repoRoot } from "../lib/repo-root.js";
import { UNLIMITED } from "../lib/targets.js";

interface ClientReport {
  reconnectedAt: number[];
  failedAttempts: number;
}

export interface DrainRunResult {
  /** Most reconnects upgraded by the surviving node in any 100 ms, as a rate per second. */
  peakPerSecond100ms: number;
  /** Most in any 1 s. */
  peakPerSecond1s: number;
  /** From the first reconnect to the last, ms. */
  spreadMs: number;
  reconnected: number;
  /** Reconnect attempts the surviving node refused or dropped (each retried with backoff). */
  failedAttempts: number;
}

/** Most events in any window of `windowMs` (two pointers over sorted times). */
function peak(times: number[], windowMs: number): number {
  let best = 0;
  for (let lo = 0, hi = 0; hi < times.length; hi++) {
    while (times[hi] - times[lo] >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

function startNode(port: number, core: string, env: Record<string, string>) {
  const cli = join(repoRoot(), "dist", "server", "cli.js");
  const child = spawn("taskset", ["-c", core, process.execPath, cli], {
    env: { ...process.env, ...UNLIMITED, PORT: String(port), HOST: "127.0.0.1", WORKERS: "1", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { child, exited, output: () => output };
}

async function waitAccepting(port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`node on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startClients(from: number, to: number, sockets: number, offset: number) {
  const entry = join(repoRoot(), "dist", "bench", "lib", "drain-client.js");
  const child = spawn(process.execPath, [entry, "--from", String(from), "--to", String(to), "--sockets", String(sockets), "--offset", String(offset)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let onReady: () => void = () => {};
  let onReport: (report: ClientReport) => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const report = new Promise<ClientReport>((resolve) => (onReport = resolve));
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (line === "ready") onReady();
    else if (line.startsWith("{")) onReport(JSON.parse(line) as ClientReport);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { ready: Promise.race([ready, exited.then((code) => Promise.reject(new Error(`drain client exited with ${code}`)))]), report, child };
}

/** One drain: N sockets on a fresh node, SIGTERM, every client reconnecting to a second node. */
export async function measureDrain(sockets: number, processes: number, drainEnv: Record<string, string>): Promise<DrainRunResult> {
  const [portA, portB] = [await freePort(), await freePort()];
  // The draining node on core 0, the surviving one on core 1; the clients are not pinned.
  const a = startNode(portA, "0", drainEnv);
  const b = startNode(portB, "1", {});
  try {
    await Promise.all([waitAccepting(portA), waitAccepting(portB)]);
    const per = Math.ceil(sockets / processes);
    const clients = Array.from({ length: processes }, (_, i) => startClients(portA, portB, Math.min(per, sockets - i * per), i * per));
    await Promise.all(clients.map((c) => c.ready));
    a.child.kill("SIGTERM");
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("reconnects did not finish within 120 s")), 120_000).unref());
    const reports = await Promise.race([Promise.all(clients.map((c) => c.report)), timeout]);
    // When each reconnect was upgraded: the surviving node had accepted it just before.
    const times = reports.flatMap((r) => r.reconnectedAt).sort((x, y) => x - y);
    await a.exited;
    return {
      peakPerSecond100ms: peak(times, 100) * 10,
      peakPerSecond1s: peak(times, 1000),
      spreadMs: times.length > 0 ? times[times.length - 1] - times[0] : 0,
      reconnected: reports.reduce((sum, r) => sum + r.reconnectedAt.length, 0),
      failedAttempts: reports.reduce((sum, r) => sum + r.failedAttempts, 0),
    };
  } finally {
    a.child.kill("SIGKILL");
    b.child.kill("SIGTERM");
    await b.exited;
  }
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const sockets = f.number("sockets", 10_000);
  const runs = f.number("runs", 3);
  const processes = f.number("processes", 2);
  const modes: Array<{ name: string; env: Record<string, string> }> = [
    { name: "default (drainPeriod 10 s, batches every 100 ms)", env: {} },
    { name: "all at once (drainPeriod 0)", env: { DRAIN_PERIOD: "0" } },
  ];
  const results = new Map<string, DrainRunResult[]>(modes.map((m) => [m.name, []]));
  for (let i = 0; i < runs; i++) {
    for (const mode of modes) {
      const result = await measureDrain(sockets, processes, mode.env);
      results.get(mode.name)?.push(result);
      console.log(`run ${i + 1} ${mode.name}: ${JSON.stringify(result)}`);
    }
  }
  console.log(`\n${sockets} sockets drained from one node, reconnecting to the other; medians of ${runs} runs:`);
  console.log("| drain | peak reconnects/s (100 ms window) | peak reconnects in 1 s | first to last reconnect | failed attempts |");
  console.log("|---|---:|---:|---:|---:|");
  for (const [name, list] of results) {
    const m = (pick: (r: DrainRunResult) => number) => median(list.map(pick));
    console.log(`| ${name} | ${m((r) => r.peakPerSecond100ms).toFixed(0)} | ${m((r) => r.peakPerSecond1s).toFixed(0)} | ${(m((r) => r.spreadMs) / 1000).toFixed(2)} s | ${m((r) => r.failedAttempts)} |`);
  }
}
