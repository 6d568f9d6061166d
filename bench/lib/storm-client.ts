/**
 * The presence storm client (bench/native/storm/presence-storm.c): N native sockets join one
 * presence-tracking room within a window and follow its presence until every list is complete.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";

import { compileNative } from "./native-build.js";
import { repoRoot } from "./repo-root.js";

export interface StormReport {
  members: number;
  connected: number;
  joinReplies: number;
  joinErrors: number;
  closed: number;
  /** Members whose list held all N at the end. */
  complete: number;
  lastJoinReplyMs: number;
  completeP50Ms: number;
  /** First join sent until the last member's list held all N. */
  completeMaxMs: number;
  elapsedMs: number;
  presenceBytesPerMember: number;
  presenceBytesMax: number;
  stateFrames: number;
  diffFrames: number;
}

export interface StormOptions {
  port: number;
  topic: string;
  members: number;
  joinWindowMs: number;
  timeoutSeconds: number;
  core?: number;
  /** Stay in the room this long after the end, ms ("onDone" fires when that starts). */
  holdMs?: number;
  /** Called when the client starts the storm (all sockets open). */
  onStorm?: () => void;
  onDone?: () => void;
}

function buildStormClient(): string {
  const root = repoRoot();
  const native = join(root, "bench", "native");
  const sources = [join(native, "storm", "presence-storm.c"), join(native, "wsframe.c"), join(native, "byte-buffer.c"), join(native, "byte-buffer.h")];
  return compileNative("presence-storm", sources, "storm client");
}

export async function runStormClient(o: StormOptions): Promise<StormReport> {
  const binary = buildStormClient();
  const args = ["--port", String(o.port), "--topic", o.topic, "--members", String(o.members), "--join-window-ms", String(o.joinWindowMs), "--timeout-s", String(o.timeoutSeconds), "--hold-ms", String(o.holdMs ?? 0)];
  const child = o.core === undefined ? spawn(binary, args) : spawn("taskset", ["-c", String(o.core), binary, ...args]);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    if (chunk.includes("phase storm")) o.onStorm?.();
    if (chunk.includes("phase done")) o.onDone?.();
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0) throw new Error(`storm client exited with ${code}: ${stderr}`);
  return JSON.parse(stdout) as StormReport;
}
