/** A Cinder node as the CLI runs it, pinned to core 1, for scenarios that drive it with raw sockets. */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";

import { repoRoot } from "./repo-root.js";
import { freePort } from "./server-process.js";

export interface CliNode {
  child: ChildProcess;
  port: number;
  /** Its stdout and stderr so far. */
  output(): string;
}

/**
 * Starts `cli` (default: this checkout's dist/server/cli.js) with `WORKERS` workers and `env` on
 * a free port, under `node <nodeArgs>`, pinned to core 1; resolves once /health answers.
 */
export async function startCliNode(options: { workers: number; env?: Record<string, string>; cli?: string; nodeArgs?: string[] }): Promise<CliNode> {
  const port = await freePort();
  const cli = options.cli ?? join(repoRoot(), "dist", "server", "cli.js");
  const child = spawn("taskset", ["-c", "1", process.execPath, ...(options.nodeArgs ?? []), cli], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", WORKERS: String(options.workers), ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => void (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => void (output += chunk.toString()));
  const deadline = Date.now() + 20_000;
  while (!(await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`node did not start: ${output}`);
    await sleep(50);
  }
  return { child, port, output: () => output };
}

/** A raw V2 socket to the node on `port`, speaking JSON or msgpack. */
export function openV2Socket(port: number, serializer: "json" | "msgpack"): Promise<WebSocket> {
  const query = serializer === "msgpack" ? "vsn=2.0.0&serializer=msgpack" : "vsn=2.0.0";
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket/websocket?${query}`);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}
