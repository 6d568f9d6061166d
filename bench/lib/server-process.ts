/** Runs a target server as a child process pinned to a core, and stops it again. */
import { type ChildProcess, spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

import type { Target } from "./targets.js";

export interface RunningServer {
  readonly pid: number;
  /** The child process (its IPC channel, when started with `ipc`). */
  readonly child: ChildProcess;
  readonly port: number;
  /** stderr/stdout of the server, for error messages */
  output(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const address = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

/** How a server process is started beyond its target's command. */
export interface ServerProcessOptions {
  /** Node options before the script (`--expose-gc`, `--import <probe>`). */
  nodeArgs?: string[];
  /** An IPC channel to the child (a probe inside it answers over it). */
  ipc?: boolean;
}

export async function startServer(target: Target, core: number | string | undefined, timeoutMs = 20_000, options: ServerProcessOptions = {}): Promise<RunningServer> {
  const port = await freePort();
  const { args, env } = target.command(port);
  const node = [process.execPath, ...(options.nodeArgs ?? []), ...args];
  const argv = core === undefined ? node : ["taskset", "-c", String(core), ...node];
  const child: ChildProcess = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: options.ipc ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const keep = (chunk: Buffer): void => void (log = (log + chunk.toString()).slice(-8000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + timeoutMs;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${target.name} did not start on port ${port}:\n${log}`);
    }
    await sleep(50);
  }
  return {
    pid: child.pid ?? -1,
    child,
    port,
    output: () => log,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
