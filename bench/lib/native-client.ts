/**
 * Builds and runs the native load client. Node WebSocket clients top out near
 * 1M messages/s per core, below what uWS serves, so the load comes from C.
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

import type { LoadReport } from "./load-report.js";
import { compileNative, nativeBuildDir } from "./native-build.js";
import { repoRoot } from "./repo-root.js";

export interface LoadClientOptions {
  port: number;
  host?: string;
  path: string;
  protocol: "phoenix" | "engineio";
  sockets: number;
  topics: number;
  topicSpace?: number;
  /** topics are `<prefix><n>`; the client's default is "bench:" (the demo app's channel without history) */
  topicPrefix?: string;
  joinPayload?: string;
  /** one measurement round per value; [] = connect, join (and hold) only */
  inflight: number[];
  warmupSeconds?: number;
  durationSeconds?: number;
  /** broadcasts per round; the round ends when all are delivered (or durationSeconds passes) */
  messages?: number;
  holdSeconds?: number;
  settleSeconds?: number;
  /** how long a round waits for outstanding broadcasts before counting them missing */
  drainSeconds?: number;
  bodySize?: number;
  heartbeatSeconds?: number;
  /** core the client runs on (taskset); undefined = not pinned */
  core?: number;
}

/** Called on every "phase <name> [k]" line, at the moment the client enters it. */
export type PhaseListener = (phase: string, arg: number | undefined) => void;

export function nativeClientPath(): string {
  return join(nativeBuildDir(), "cinder-load");
}

/** Compiles bench/native/*.c with cc -O2 when the binary is missing or older than a source. */
export function buildNativeClient(): string {
  const srcDir = join(repoRoot(), "bench", "native");
  const sources = readdirSync(srcDir).filter((f) => f.endsWith(".c") || f.endsWith(".h"));
  return compileNative("cinder-load", sources.map((f) => join(srcDir, f)), "load client");
}

function clientArgs(o: LoadClientOptions): string[] {
  const args: Record<string, string | number | undefined> = {
    host: o.host ?? "127.0.0.1",
    port: o.port,
    path: o.path,
    protocol: o.protocol,
    sockets: o.sockets,
    topics: o.topics,
    "topic-space": o.topicSpace,
    "topic-prefix": o.topicPrefix,
    "join-payload": o.joinPayload,
    inflight: o.inflight.length > 0 ? o.inflight.join(",") : "0",
    warmup: o.warmupSeconds,
    duration: o.durationSeconds,
    messages: o.messages,
    hold: o.holdSeconds,
    settle: o.settleSeconds,
    drain: o.drainSeconds,
    "body-size": o.bodySize,
    heartbeat: o.heartbeatSeconds,
  };
  return Object.entries(args).flatMap(([k, v]) => (v === undefined ? [] : [`--${k}`, String(v)]));
}

export async function runNativeClient(o: LoadClientOptions, onPhase: PhaseListener = () => {}): Promise<LoadReport> {
  const binary = buildNativeClient();
  const args = clientArgs(o);
  const child =
    o.core === undefined
      ? spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] })
      : spawn("taskset", ["-c", String(o.core), binary, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  const otherStderr: string[] = [];
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  createInterface({ input: child.stderr }).on("line", (line) => {
    const m = /^phase (\S+)(?: (\d+))?$/.exec(line);
    if (m) onPhase(m[1], m[2] === undefined ? undefined : Number(m[2]));
    else otherStderr.push(line);
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0) throw new Error(`load client exited with ${code}: ${otherStderr.join("\n")}`);
  return JSON.parse(stdout) as LoadReport;
}
