/** A child's stdout and stderr, line by line, appended to its log file and handed to a reader. */
import type { ChildProcess } from "node:child_process";
import { appendFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { LISTENING_LINE_START } from "../../../server/ops/listening-line.js";

export function followOutput(child: ChildProcess, logFile: string, onLine: (line: string, stream: "stdout" | "stderr") => void): void {
  for (const stream of ["stdout", "stderr"] as const) {
    const input = child[stream];
    if (!input) continue;
    createInterface({ input }).on("line", (line) => {
      appendFileSync(logFile, `${line}\n`);
      onLine(line, stream);
    });
  }
}

/**
 * How bad a node's output line is: pino's JSON `level` (50 error, 60 fatal, 40 warn); a line that
 * is not JSON (an uncaught exception's stack, the CLI's own `cinder: …`) counts as an error, but
 * for the line the CLI prints once it listens.
 */
export function severityOf(line: string): "error" | "warn" | undefined {
  let level: unknown;
  try {
    level = (JSON.parse(line) as { level?: unknown }).level;
  } catch {
    return line.trim() === "" || line.startsWith(LISTENING_LINE_START) ? undefined : "error";
  }
  if (typeof level !== "number") return undefined;
  return level >= 50 ? "error" : level >= 40 ? "warn" : undefined;
}
