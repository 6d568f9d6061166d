/**
 * Webhooks: events delivered per second to a local backend, and what the message path costs with
 * and without them. Medians of --runs; loopback only; bounded in count; every process stopped.
 *   npm run bench -- webhooks [--runs 3] [--events 100000] [--batch 100,1000] [--pushes 200000]
 *
 * Delivered: one node (WORKERS=1, taskset core 1) sends every `new_msg` push on `room:*` as a
 * client_event; one socket pushes --events of them; the backend (a node:http server in this
 * process, core 0) acknowledges each batch after checking its signature. Events/s = events from
 * the first push to the last event acknowledged.
 * Message path: one socket pushes --pushes `new_msg` (echoed back by the room), to a node without
 * webhooks, with webhooks on occupancy and presence only, and with every push sent as an event:
 * pushes/s, side by side in one run. The pushing socket has no inbound byte budget (one socket
 * pushes far more than a client would).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { parseFlags } from "../lib/flags.js";
import { fmtRate } from "../lib/format.js";
import { repoRoot } from "../lib/repo-root.js";
import { freePort } from "../lib/server-process.js";
import { median } from "../lib/stats.js";
import { UNLIMITED } from "../lib/targets.js";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from "../../server/webhooks/signature.js";

const SECRET = "bench-webhook-secret-0123456789";

async function until(check: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A backend counting the events of the batches it acknowledged (signatures checked). */
async function backend(): Promise<{ server: Server; url: string; events: () => number; bad: () => number }> {
  let events = 0;
  let bad = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      if (!verifySignature(SECRET, { timestamp: req.headers[TIMESTAMP_HEADER] as string, signature: req.headers[SIGNATURE_HEADER] as string }, body)) {
        bad++;
        return res.writeHead(401).end();
      }
      events += (JSON.parse(body) as { events: unknown[] }).events.length;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, events: () => events, bad: () => bad };
}

async function startNode(webhooks: object | undefined): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), HOST: "127.0.0.1", WORKERS: "1", LOG_LEVEL: "warn", ...UNLIMITED, MAX_INBOUND_BYTES_PER_SECOND: "0", ...(webhooks ? { WEBHOOKS: JSON.stringify(webhooks) } : {}) };
  const child = spawn("taskset", ["-c", "1", process.execPath, join(repoRoot(), "dist", "server", "cli.js")], { env, stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-10_000)));
  const started = await fetchUntilUp(port, child);
  if (!started) throw new Error(`node exited: ${output}`);
  return { child, port };
}

async function fetchUntilUp(port: number, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 1000 && child.exitCode === null; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

/** One socket joined to `room:bench`, pushing `count` new_msg in windows of 1000 outstanding; resolves when all echoes came back. */
async function pushes(port: number, count: number): Promise<{ seconds: number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket/websocket?vsn=2.0.0`);
  await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
  let joined = false;
  let echoed = 0;
  ws.on("message", (data) => {
    const [, , , event] = JSON.parse(data.toString()) as [unknown, unknown, string, string];
    if (event === "phx_reply") joined = true;
    else if (event === "new_msg") echoed++;
  });
  ws.send(JSON.stringify(["1", "1", "room:bench", "phx_join", { user: "bench", presence: false }]));
  await until(() => joined, "the join");
  const started = performance.now();
  let sent = 0;
  // Bounded: a socket whose echoes stop coming (closed, refused) fails the run instead of spinning.
  let progressAt = performance.now();
  let lastEchoed = 0;
  while (sent < count) {
    while (sent < count && sent - echoed < 1000) ws.send(JSON.stringify(["1", null, "room:bench", "new_msg", { body: `m${sent++}` }]));
    if (echoed !== lastEchoed) [lastEchoed, progressAt] = [echoed, performance.now()];
    else if (performance.now() - progressAt > 30_000) throw new Error(`no echo for 30 s after ${echoed} of ${count} pushes (socket ${ws.readyState === WebSocket.OPEN ? "open" : "closed"})`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await until(() => echoed >= count, "the echoes");
  const seconds = (performance.now() - started) / 1000;
  ws.close();
  return { seconds };
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const runs = f.number("runs", 3);
  const events = f.number("events", 100_000);
  const batches = f.numbers("batch", [100, 1000]);
  const pushCount = f.number("pushes", 200_000);
  const hook = await backend();
  const base = { url: hook.url, secret: SECRET, maxQueue: Math.max(events, pushCount) + 1000 };
  try {
    console.log(`webhooks: node on core 1 (taskset), this process (clients, backend) unpinned; medians of ${runs}; a noisy shared machine`);
    for (const batchSize of batches) {
      const rates: number[] = [];
      for (let r = 0; r < runs; r++) {
        const node = await startNode({ ...base, batchSize, events: ["client_event"], clientEvents: [{ topic: "room:*", events: ["new_msg"] }] });
        try {
          const before = hook.events();
          const started = performance.now();
          await pushes(node.port, events);
          await until(() => hook.events() - before >= events, "every event acknowledged");
          rates.push(events / ((performance.now() - started) / 1000));
        } finally {
          await stop(node.child);
        }
      }
      console.log(`events delivered/s, batchSize ${batchSize}: ${fmtRate(median(rates))} (runs: ${rates.map((x) => fmtRate(x)).join(", ")})`);
    }
    const configs: Array<[string, object | undefined]> = [
      ["no webhooks", undefined],
      ["webhooks, occupancy and presence only", { ...base, events: ["channel_occupied", "channel_vacated", "member_added", "member_removed"] }],
      ["webhooks, every push an event", { ...base, batchSize: 1000, events: ["client_event"], clientEvents: [{ topic: "room:*", events: ["*"] }] }],
    ];
    const rates = new Map<string, number[]>(configs.map(([name]) => [name, []]));
    // Interleaved, so that the machine's noise falls on every configuration alike.
    for (let r = 0; r < runs; r++) {
      for (const [name, webhooks] of configs) {
        const node = await startNode(webhooks);
        try {
          const { seconds } = await pushes(node.port, pushCount);
          rates.get(name)!.push(pushCount / seconds);
        } finally {
          await stop(node.child);
        }
      }
    }
    const baseline = median(rates.get("no webhooks")!);
    for (const [name, values] of rates) console.log(`pushes/s, ${name}: ${fmtRate(median(values))} (×${(median(values) / baseline).toFixed(2)}; runs: ${values.map((x) => fmtRate(x)).join(", ")})`);
    if (hook.bad() > 0) throw new Error(`${hook.bad()} batches failed their signature`);
  } finally {
    hook.server.closeAllConnections();
    hook.server.close();
  }
}
