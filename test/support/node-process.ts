import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait.js";

const CLI = fileURLToPath(new URL("../../dist/server/cli.js", import.meta.url));

/** The secretKeyBase the nodes of a test cluster share (they sign LongPoll sessions with it). */
export const CLUSTER_SECRET_KEY_BASE = "test-cluster-secret-key-base-0123456789abcdef";

/** A node process as a test starts it; every field is optional. */
export interface NodeOptions {
  /** NODE_NAME (default: the CLI's own, the host name). */
  name?: string;
  /** WORKERS, the node's threads (default 1). */
  workers?: number;
  /** The Redis (or Redis Cluster) the node joins: REDIS_URL. */
  redis?: { url: string };
  /** The app the node serves (APP): a module of test/support/apps, e.g. "history-app.mjs"; default the demo chat. */
  app?: string;
  /** PORT (default: a free loopback port). */
  port?: number;
  /** Any other environment of the CLI; it wins over what the fields above set. */
  env?: Record<string, string>;
}

/** A Cinder node as its own process (the built CLI), for restarts, signals and crashes. */
export class NodeProcess {
  output = "";
  exitCode: number | null | undefined = undefined;
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    /** What it was started with: `NodeProcess.start({ ...node.options, port: node.port })` starts it again. */
    readonly options: NodeOptions,
  ) {
    child.stdout?.on("data", (d) => (this.output += d));
    child.stderr?.on("data", (d) => (this.output += d));
    child.on("exit", (code) => (this.exitCode = code));
  }

  /**
   * Starts the CLI (the one way a test starts a node process) and resolves once it logged that it
   * started; fails if it exits first. A cluster node (`redis`) gets the secretKeyBase every node
   * of the test's cluster shares, unless `env` names one (SECRET_KEY_BASE: "" for none).
   */
  static async start(options: NodeOptions = {}): Promise<NodeProcess> {
    const port = options.port ?? (await freePort());
    const env: Record<string, string> = { PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info", WORKERS: String(options.workers ?? 1) };
    if (options.name !== undefined) env.NODE_NAME = options.name;
    if (options.redis) {
      env.REDIS_URL = options.redis.url;
      if (options.env?.SECRET_KEY_BASE === undefined) env.SECRET_KEY_BASE = CLUSTER_SECRET_KEY_BASE;
    }
    if (options.app !== undefined) env.APP = fileURLToPath(new URL(`apps/${options.app}`, import.meta.url));
    const child = spawn(process.execPath, [CLI], { env: { ...process.env, ...env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
    const node = new NodeProcess(child, port, options);
    await waitFor(() => node.output.includes('"node started"') || node.exitCode !== undefined, "node to start", 15_000);
    if (node.exitCode !== undefined) throw new Error(`node exited early: ${node.output}`);
    return node;
  }

  /** Runs the CLI to completion (for startup failures and --help; `stderr` is also in `output`); one still running after `timeoutMs` is killed. */
  static run(env: Record<string, string>, args: string[] = [], timeoutMs = 20_000): Promise<{ code: number | null; output: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs, killSignal: "SIGKILL" });
      let output = "";
      let stderr = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => {
        output += d;
        stderr += d;
      });
      child.on("exit", (code) => resolve({ code, output, stderr }));
    });
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.exitCode === undefined) this.child.kill(signal);
    await waitFor(() => this.exitCode !== undefined, "node to exit", 25_000).catch((err) => {
      throw new Error(`${(err as Error).message}; its output:\n${this.output.slice(-3000)}`);
    });
    return this.exitCode ?? null;
  }
}

/** A free TCP port on loopback, found by binding port 0 and releasing it. */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
