/**
 * Child processes of a chaos run, killed with SIGKILL when this process exits however it exits
 * (a stopped process included, which would not act on SIGTERM): nothing outlives a run. A
 * scenario turns Ctrl-C into an exit with exitOnSignals().
 */
import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process";

const running = new Set<ChildProcess>();
let hooked = false;

export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  if (!hooked) {
    hooked = true;
    process.once("exit", killAll);
  }
  const child = spawn(command, args, options);
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

/** SIGKILL to every tracked process still running. */
export function killAll(): void {
  for (const child of running) child.kill("SIGKILL");
}

/** SIGINT and SIGTERM end this process through its exit handlers (Node's default would skip them). */
export function exitOnSignals(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping every process of the run\n`);
      process.exit(130);
    });
  }
}

/** Resolves with the exit code and signal once `child` has exited (at once if it already has). */
export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}
