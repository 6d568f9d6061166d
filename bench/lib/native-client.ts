/**
 * Builds and runs the native load client. Node WebSocket clients top out near
 * 1M messages/s per core, below what uWS serves, so the load comes from C.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
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
  /**
   * Instead of the settle pause, wait after "connected" and after "joined" until the phase
   * listener's promise settles (samples that take longer than a fixed pause: GC, heap snapshots).
   */
  step?: boolean;
  /** worker processes (the client's default: one per 19,000 sockets, each under 20,000 open files) */
  processes?: number;
  /** source addresses 127.0.0.1…127.0.0.N (the client's default: one per 4,000 sockets, at most 250) */
  sources?: number;
  /** bound of the connect phase and of the join phase each, seconds (the client's default: 120) */
  connectTimeoutSeconds?: number;
  /** kills the client (and with it its workers) when aborted; the run then rejects with the reason */
  signal?: AbortSignal;
  /** called once the client process runs, with its pid (its workers are its children) */
  onSpawn?: (pid: number) => void;
}

/**
 * Called on every "phase <name> [k]" line, at the moment the client enters it. With `step`, the
 * client waits after "connected" and "joined" until what this returns settles.
 */
export type PhaseListener = (phase: string, arg: number | undefined) => void | Promise<void>;

/** The phases a stepped client waits after. */
const STEPS = new Set(["connected", "joined"]);

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
    step: o.step ? 1 : undefined,
    "connect-timeout": o.connectTimeoutSeconds,
    processes: o.processes,
    sources: o.sources,
  };
  return Object.entries(args).flatMap(([k, v]) => (v === undefined ? [] : [`--${k}`, String(v)]));
}

export async function runNativeClient(o: LoadClientOptions, onPhase: PhaseListener = () => {}): Promise<LoadReport> {
  const binary = buildNativeClient();
  const args = clientArgs(o);
  const [command, argv] = o.core === undefined ? [binary, args] : ["taskset", ["-c", String(o.core), binary, ...args]];
  const child = spawn(command as string, argv as string[], { stdio: [o.step ? "pipe" : "ignore", "pipe", "pipe"] }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
  let failed: unknown;
  if (child.pid !== undefined) o.onSpawn?.(child.pid);
  // The workers die with the client (PR_SET_PDEATHSIG), so killing it stops them all.
  const abort = (): void => {
    failed ??= o.signal?.reason ?? new Error("load client aborted");
    child.kill("SIGKILL");
  };
  if (o.signal?.aborted) abort();
  o.signal?.addEventListener("abort", abort, { once: true });
  let stdout = "";
  const otherStderr: string[] = [];
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  createInterface({ input: child.stderr }).on("line", (line) => {
    const m = /^phase (\S+)(?: (\d+))?$/.exec(line);
    if (!m) return void otherStderr.push(line);
    const phase = m[1];
    const sampled = onPhase(phase, m[2] === undefined ? undefined : Number(m[2]));
    if (!o.step || !STEPS.has(phase)) return;
    // The go-ahead is given even when the sample failed: the run ends, and the failure is thrown then.
    void Promise.resolve(sampled)
      .catch((err: unknown) => void (failed ??= err))
      .finally(() => child.stdin?.write("go\n"));
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  o.signal?.removeEventListener("abort", abort);
  if (failed !== undefined) throw failed;
  if (code !== 0) throw new Error(`load client exited with ${code}: ${otherStderr.join("\n")}`);
  return JSON.parse(stdout) as LoadReport;
}
