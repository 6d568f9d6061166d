/**
 * The run's redis-server on a loopback port, without persistence: killed and started again on
 * the same port it comes back empty, as after a failover to a fresh instance.
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";

import type { Ledger } from "./ledger.js";
import { followOutput } from "./process-output.js";
import { exitOf, spawnTracked } from "./tracked-processes.js";

export class RedisProcess {
  private child: ChildProcess | null = null;
  private expectExit = false;

  constructor(
    readonly port: number,
    private readonly ledger: Ledger,
    private readonly logDir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts it (again) and resolves once it answers PING. */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.child) throw new Error("redis-server is already running");
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"];
    const child = spawnTracked("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    this.expectExit = false;
    followOutput(child, join(this.logDir, "redis.log"), () => {});
    child.once("exit", (code, signal) => {
      if (this.child === child) this.child = null;
      if (!this.expectExit) this.ledger.crashes.push({ at: Date.now(), source: "redis", code, signal });
    });
    const deadline = Date.now() + timeoutMs;
    while (!(await answersPing(this.port))) {
      if (this.child !== child || Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port}`);
      await sleep(20);
    }
  }

  /** SIGKILL (an outage, not a shutdown); resolves once it has exited. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectExit = true;
    child.kill("SIGKILL");
    await exitOf(child);
  }
}

/** One command on a connection of its own, closed after the answer; rejects when Redis is not there. */
export async function redisOnce(port: number, command: string, ...args: string[]): Promise<unknown> {
  const client = new Redis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  client.on("error", () => {}); // the rejection below tells it
  try {
    await client.connect();
    return await client.call(command, ...args);
  } finally {
    client.disconnect();
  }
}

function answersPing(port: number): Promise<boolean> {
  return redisOnce(port, "PING").then(
    (reply) => reply === "PONG",
    () => false,
  );
}
