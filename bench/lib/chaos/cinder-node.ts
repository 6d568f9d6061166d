/**
 * One node of a chaos run: the built CLI (`node dist/server/cli.js`, the demo app `npm start`
 * serves) on its own loopback port, started again on the same port after a kill or a drain.
 * Its output goes to `<logDir>/<name>.log`; error and warning lines, and exits nobody asked
 * for, go to the ledger.
 */
import type { ChildProcess } from "node:child_process";
import { get } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { repoRoot } from "../repo-root.js";
import type { Ledger } from "./ledger.js";
import { followOutput, severityOf } from "./process-output.js";
import { exitOf, spawnTracked } from "./tracked-processes.js";
import { linkedTo } from "../targets.js";

export interface NodeSpec {
  readonly name: string;
  /** WORKERS: worker threads of the node. */
  readonly workers: number;
}

/** The part of /health a run looks at. */
export interface NodeHealth {
  status: "ok" | "degraded" | "draining";
  sockets: number;
}

/** How long a node may take to start or to answer again: long, since a machine shared with other work can slow a start tenfold. */
const START_TIMEOUT_MS = 90_000;

export class CinderNode {
  private child: ChildProcess | null = null;
  /** The signal the run sent last (an exit after it is no crash). */
  private sent: NodeJS.Signals | null = null;
  private readonly logFile: string;

  constructor(
    readonly spec: NodeSpec,
    readonly port: number,
    private readonly redisUrl: string,
    private readonly ledger: Ledger,
    logDir: string,
    private readonly env: Record<string, string> = {},
  ) {
    this.logFile = join(logDir, `${spec.name}.log`);
  }

  get name(): string {
    return this.spec.name;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts the node and resolves once its /health says "ok" (listening, linked to Redis). */
  async start(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    if (this.child) throw new Error(`node ${this.name} is already running`);
    const child = spawnTracked(process.execPath, [join(repoRoot(), "dist", "server", "cli.js")], {
      env: {
        ...process.env,
        PORT: String(this.port),
        HOST: "127.0.0.1",
        WORKERS: String(this.spec.workers),
        ...linkedTo(this.redisUrl),
        NODE_NAME: this.name,
        LOG_LEVEL: "info",
        ...this.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.sent = null;
    followOutput(child, this.logFile, (line) => {
      const level = severityOf(line);
      if (level) this.ledger.lines.push({ at: Date.now(), source: this.name, level, text: line.slice(0, 500) });
    });
    child.once("exit", (code, signal) => {
      if (this.child === child) this.child = null;
      const asked = this.sent === "SIGKILL" || (this.sent === "SIGTERM" && code === 0);
      if (!asked) this.ledger.crashes.push({ at: Date.now(), source: this.name, code, signal });
    });
    await this.waitHealth((health) => health.status === "ok", "to start", timeoutMs);
  }

  /** Sends `signal`; SIGKILL and SIGTERM announce the exit that follows. */
  signal(signal: NodeJS.Signals): void {
    if (!this.child) throw new Error(`node ${this.name} is not running`);
    if (signal === "SIGKILL" || signal === "SIGTERM") this.sent = signal;
    this.child.kill(signal);
  }

  /** Resolves once the current process has exited (at once when none runs). */
  async exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    return this.child ? exitOf(this.child) : undefined;
  }

  /** GET /health on a connection of its own, closed after the answer: an idle keep-alive connection would hold a drain up. */
  health(): Promise<NodeHealth | null> {
    return new Promise((resolve) => {
      const request = get({ host: "127.0.0.1", port: this.port, path: "/health", agent: false, headers: { connection: "close" }, timeout: 2000 }, (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString()));
        response.on("end", () => {
          try {
            resolve(JSON.parse(body) as NodeHealth);
          } catch {
            resolve(null);
          }
        });
      });
      request.on("timeout", () => request.destroy());
      request.on("error", () => resolve(null));
    });
  }

  /** Polls /health until `accept` says yes. */
  async waitHealth(accept: (health: NodeHealth) => boolean, what: string, timeoutMs = START_TIMEOUT_MS): Promise<NodeHealth> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const health = await this.health();
      if (health && accept(health)) return health;
      if (!this.child) throw new Error(`node ${this.name} exited while waiting for it ${what}; see ${this.logFile}`);
      if (Date.now() > deadline) throw new Error(`node ${this.name} did not get ${what} within ${timeoutMs} ms (last /health: ${JSON.stringify(health)})`);
      await sleep(50);
    }
  }
}
