/**
 * The longpoll benchmark's measurement: one Cinder node (the built CLI), `clients` clients of
 * one transport in one room spread over `processes` load-client processes, `broadcasts` sent
 * through POST /api/broadcast at `rate` a second; every delivery counted and timed, and the
 * server's CPU time over the round read from /proc.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { performance } from "node:perf_hooks";

import type { ClientReport, StartCommand } from "./longpoll-client.js";
import { trySampleProcess } from "./proc-stats.js";
import { startServer, type RunningServer } from "./server-process.js";
import { repoRoot } from "./repo-root.js";
import { UNLIMITED } from "./targets.js";
import { join } from "node:path";

export type Transport = StartCommand["transport"];

export interface LongPollLoadOptions {
  clients: number;
  processes: number;
  broadcasts: number;
  /** Broadcasts a second. */
  rate: number;
  /** taskset CPU list of the server and of the load clients; undefined: not pinned. */
  serverCpu?: string;
  clientCpu?: string;
  /** How long to wait for the last deliveries after the last broadcast. */
  drainSeconds: number;
}

export interface TransportResult {
  transport: Transport;
  clients: number;
  broadcasts: number;
  deliveries: number;
  expected: number;
  /** Deliveries per second, from the first broadcast to the last delivery. */
  deliveriesPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Server CPU time per delivered message, µs. */
  cpuMicrosPerDelivery: number;
  clientErrors: number;
}

const BROADCAST_KEY = "bench-broadcast-key";
/** The built client (also when this file runs from source, in the smoke test). */
const CLIENT = join(repoRoot(), "dist", "bench", "lib", "longpoll-client.js");

/** Starts the node the round measures: one worker, no per-client rate limits, LongPoll on. */
export function startLongPollServer(cpu: string | undefined): Promise<RunningServer> {
  return startServer(
    {
      name: "cinder",
      label: "Cinder",
      protocol: "phoenix",
      path: "/socket/websocket?vsn=2.0.0",
      command: (port) => ({
        args: [join(repoRoot(), "dist", "server", "cli.js"), "--port", String(port), "--host", "127.0.0.1"],
        env: { WORKERS: "1", LOG_LEVEL: "warn", BROADCAST_KEY, LONG_POLL_MAX_BUFFERED_BYTES: String(16 * 1024 * 1024), ...UNLIMITED },
      }),
    },
    cpu,
  );
}

/** One round: connect and join every client of `transport`, broadcast, count and time every delivery. */
export async function measureTransport(server: RunningServer, transport: Transport, options: LongPollLoadOptions, topic: string): Promise<TransportResult> {
  const children = Array.from({ length: options.processes }, () => spawnClient(options.clientCpu));
  try {
    const share = (i: number) => Math.floor(options.clients / options.processes) + (i < options.clients % options.processes ? 1 : 0);
    const ready = await Promise.all(children.map((child, i) => ask<{ ready?: number; failed?: string }>(child, { cmd: "start", port: server.port, transport, count: share(i), topic })));
    const failed = ready.find((answer) => answer.failed);
    if (failed) throw new Error(`a ${transport} client failed: ${failed.failed}`);
    const expected = options.broadcasts * options.clients;
    const cpuBefore = trySampleProcess(server.pid)?.cpuSeconds ?? 0;
    const started = performance.now();
    await publish(server.port, topic, options.broadcasts, options.rate);
    const deadline = performance.now() + options.drainSeconds * 1000;
    let delivered = 0;
    let lastChange = performance.now();
    for (;;) {
      const counts = await Promise.all(children.map((child) => ask<{ count: number }>(child, { cmd: "count" })));
      const total = counts.reduce((sum, answer) => sum + answer.count, 0);
      if (total !== delivered) lastChange = performance.now();
      delivered = total;
      if (delivered >= expected || performance.now() > deadline) break;
      await sleep(20);
    }
    const elapsed = (lastChange - started) / 1000;
    const cpu = (trySampleProcess(server.pid)?.cpuSeconds ?? 0) - cpuBefore;
    const reports = await Promise.all(children.map((child) => ask<{ report: ClientReport }>(child, { cmd: "report" })));
    const latencies = reports.flatMap((answer) => answer.report.latencies).sort((a, b) => a - b);
    const at = (q: number) => (latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
    return {
      transport,
      clients: options.clients,
      broadcasts: options.broadcasts,
      deliveries: delivered,
      expected,
      deliveriesPerSecond: elapsed > 0 ? delivered / elapsed : 0,
      latencyP50Ms: at(0.5),
      latencyP99Ms: at(0.99),
      cpuMicrosPerDelivery: delivered > 0 ? (cpu * 1e6) / delivered : 0,
      clientErrors: reports.reduce((sum, answer) => sum + answer.report.errors, 0),
    };
  } finally {
    for (const child of children) {
      if (!child.connected) continue;
      child.send({ cmd: "stop" });
      child.disconnect();
    }
  }
}

function spawnClient(cpu: string | undefined): ChildProcess {
  const argv = cpu === undefined ? [process.execPath, CLIENT] : ["taskset", "-c", cpu, process.execPath, CLIENT];
  return spawn(argv[0], argv.slice(1), { stdio: ["ignore", "inherit", "inherit", "ipc"] });
}

/** Sends a command and waits for the child's next message. */
function ask<T>(child: ChildProcess, command: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`load client exited (${code})`));
    child.once("exit", onExit);
    child.once("message", (message) => {
      child.off("exit", onExit);
      resolve(message as T);
    });
    child.send(command as object);
  });
}

/**
 * `count` broadcasts at `rate` a second, each carrying the wall-clock time it was sent. Each
 * POST leaves on time without waiting for the previous answer, so a slow answer never slows the
 * rate; all are awaited at the end.
 */
async function publish(port: number, topic: string, count: number, rate: number): Promise<void> {
  const started = performance.now();
  const sent: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const t = performance.timeOrigin + performance.now();
    sent.push(
      fetch(`http://127.0.0.1:${port}/api/broadcast`, {
        method: "POST",
        headers: { authorization: `Bearer ${BROADCAST_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ topic, event: "bench", payload: { t, i } }),
      }).then(async (response) => {
        await response.arrayBuffer();
        // 202 once handed on; 200 once kept, on a topic whose channel keeps history (the demo's room:*).
        if (response.status !== 202 && response.status !== 200) throw new Error(`broadcast answered ${response.status}`);
      }),
    );
  }
  await Promise.all(sent);
}
