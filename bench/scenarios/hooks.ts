/**
 * Connects/s and joins/s through backend hooks (a connect hook and a join hook answered by a local
 * HTTP backend, bench/lib/hook-backend.ts) beside built-in Phoenix.Token auth and no auth at all,
 * in one run: the targets alternate, `--runs` times each (medians reported). The node is pinned to
 * core 0; the load client and the hook backend share core 1.
 *   npm run bench -- hooks [--sockets 5000] [--runs 3]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signPhoenixToken } from "../../server/auth/phoenix-token.js";
import { fmtRate } from "../lib/format.js";
import { parseFlags } from "../lib/flags.js";
import { CLIENT_CORE, measure } from "../lib/measure.js";
import { repoRoot } from "../lib/repo-root.js";
import { freePort } from "../lib/server-process.js";
import { median } from "../lib/stats.js";
import { UNLIMITED, type Target } from "../lib/targets.js";

const SECRET_KEY_BASE = "bench-secret-key-base-".padEnd(64, "x");
const CLI = () => join(repoRoot(), "dist", "server", "cli.js");

function node(name: string, label: string, path: string, env: Record<string, string>): Target {
  return {
    name,
    label,
    protocol: "phoenix",
    path,
    command: (port) => ({ args: [CLI(), "--port", String(port), "--host", "127.0.0.1"], env: { WORKERS: "1", LOG_LEVEL: "warn", ...UNLIMITED, ...env } }),
  };
}

function targets(backendPort: number): Target[] {
  const token = encodeURIComponent(signPhoenixToken(SECRET_KEY_BASE, "user socket", "bench"));
  const config = join(mkdtempSync(join(tmpdir(), "cinder-bench-hooks-")), "cinder.json");
  const url = (path: string) => `http://127.0.0.1:${backendPort}${path}`;
  // A queue as deep as the load: the benchmark measures throughput, not refusals.
  writeFileSync(config, JSON.stringify({ hooks: { concurrency: 64, queue: 100_000, connect: url("/connect"), channels: { "bench:*": { join: url("/join") } } } }));
  return [
    node("no-auth", "no auth (the demo's bench:* channel)", "/socket/websocket?vsn=2.0.0&user=bench", {}),
    node("token", "Phoenix.Token auth (the demo's bench:* channel)", `/socket/websocket?vsn=2.0.0&user=bench&token=${token}`, {
      SECRET_KEY_BASE,
      AUTH: JSON.stringify({ phoenixToken: { salt: "user socket" } }),
    }),
    node("hooks", "connect and join hooks (bench:* answered by the backend)", "/socket/websocket?vsn=2.0.0&user=bench", { CONFIG: config }),
  ];
}

async function startBackend(): Promise<{ port: number; stop: () => void }> {
  const port = await freePort();
  const script = join(repoRoot(), "dist", "bench", "lib", "hook-backend.js");
  const child = spawn("taskset", ["-c", String(CLIENT_CORE), process.execPath, script, String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  const stop = () => void child.kill("SIGKILL");
  process.once("exit", stop);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`hook backend exited with ${code}`)));
  });
  return { port, stop };
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const sockets = f.number("sockets", 5000);
  const runs = f.number("runs", 3);
  const backend = await startBackend();
  try {
    const list = targets(backend.port);
    const results = new Map(list.map((t) => [t.name, { connects: [] as number[], joins: [] as number[], failures: [] as string[] }]));
    for (let r = 0; r < runs; r++) {
      for (const target of list) {
        const m = await measure(target, { sockets, topics: 1, inflight: [], settleSeconds: 0.5 }, !f.has("no-pin"));
        const row = results.get(target.name)!;
        row.connects.push(m.connect_per_s);
        row.joins.push(m.subscriptions_per_s);
        row.failures.push(JSON.stringify(m.failures));
        console.log(`run ${r + 1} ${target.name}: ${fmtRate(m.connect_per_s)} connects/s, ${fmtRate(m.subscriptions_per_s)} joins/s, failures ${JSON.stringify(m.failures)}`);
      }
    }
    console.log(`\n${sockets} sockets, 1 join each; median of ${runs} runs, targets alternating; node on core 0, client and hook backend on core 1 (Node ${process.version})\n`);
    console.log("| target | connects/s | joins/s | runs (connects/s) |");
    console.log("|---|---:|---:|---|");
    for (const target of list) {
      const row = results.get(target.name)!;
      console.log(`| ${target.label} | ${fmtRate(median(row.connects))} | ${fmtRate(median(row.joins))} | ${row.connects.map(fmtRate).join(", ")} |`);
    }
  } finally {
    backend.stop();
  }
}
