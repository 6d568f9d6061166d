import { spawn, type ChildProcess } from "node:child_process";
import { waitFor } from "./wait.js";

/**
 * A command (`npm start`, `npx cinder`) run in a process group of its own, as a terminal runs
 * it: signals go to the command alone (`kill`) or to the whole group (`killGroup`, as Ctrl-C
 * does). `closed` is true once every process that held its output has ended, the command's
 * children included, even those it left behind.
 */
export class GroupProcess {
  output = "";
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  closed = false;
  private readonly child: ChildProcess;

  constructor(command: string, args: string[], options: { cwd: string; env: Record<string, string> }) {
    this.child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    this.child.stdout?.on("data", (d) => (this.output += d));
    this.child.stderr?.on("data", (d) => (this.output += d));
    this.child.on("exit", (code, signal) => (this.exit = { code, signal }));
    this.child.on("close", () => (this.closed = true));
  }

  /** Waits for `text` in the output; fails if the command ends first. */
  async waitForOutput(text: string, timeoutMs = 30_000): Promise<void> {
    await waitFor(() => this.output.includes(text) || this.exit, `"${text}" in the output`, timeoutMs);
    if (!this.output.includes(text)) throw new Error(`exited (${JSON.stringify(this.exit)}) before "${text}":\n${this.output}`);
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** The signal to every process of the group, as a terminal's Ctrl-C sends SIGINT. */
  killGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-(this.child.pid as number), signal);
    } catch {
      // the group is gone
    }
  }

  /** Waits until every process holding the output has ended (bounded), and says how the command itself ended. */
  async ended(timeoutMs = 25_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    await waitFor(() => this.closed, "the command and every process it started to end", timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message}; its output:\n${this.output.slice(-3000)}`);
    });
    return this.exit as { code: number | null; signal: NodeJS.Signals | null };
  }

  /** For afterEach: SIGKILL to whatever of the group is left. */
  stop(): void {
    if (!this.closed) this.killGroup("SIGKILL");
  }
}

/** The pino lines of `output` with this `msg`. */
export function logLines(output: string, msg: string): Array<Record<string, unknown>> {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{") && line.includes(`"msg":${JSON.stringify(msg)}`))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
