/**
 * Processes for the history benchmark: the local cluster of the cluster benchmark (a
 * redis-server and N nodes of the built CLI sharing one port, WORKERS=1 each) with extra
 * settings for the nodes, and the pinning of the bench process itself while it plays clients.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { type LocalCluster, startLocalCluster } from "./cluster-processes.js";
import { repoRoot } from "./repo-root.js";

/** Where the processes run; undefined = not pinned (--no-pin). */
export interface Pinning {
  /** redis-server and every node */
  server?: number;
  /** the native load client, or this process when it plays the clients */
  client?: number;
}

export interface HistorySetup {
  name: string;
  label: string;
  nodes: number;
  /** with REDIS_URL: Redis numbers and keeps the history */
  linked: boolean;
}

export const ONE_NODE: HistorySetup = { name: "1node", label: "1 node, no Redis", nodes: 1, linked: false };
export const ONE_NODE_REDIS: HistorySetup = { name: "1node-redis", label: "1 node with Redis", nodes: 1, linked: true };
export const TWO_NODES: HistorySetup = { name: "2nodes", label: "2 nodes via Redis", nodes: 2, linked: true };

/**
 * The app the recovery part runs: the demo chat, with `room:*` keeping `size` messages. The
 * demo app keeps 200, fewer than the 300 a recovery is meant to bring back.
 */
export function recoveryApp(size: number): Record<string, string> {
  return { APP: join(repoRoot(), "dist", "bench", "lib", "history-app.js"), BENCH_HISTORY_SIZE: String(size) };
}

/**
 * Starts the cluster with `env` added to the nodes' environment. startLocalCluster (shared with
 * the cluster benchmark) hands the bench's own environment on to what it spawns and takes no
 * other settings, so the extra ones are put there while the nodes start and taken away after.
 */
export async function startNodes(setup: HistorySetup, pinning: Pinning, env: Record<string, string> = {}): Promise<LocalCluster> {
  const saved = Object.keys(env).map((key) => [key, process.env[key]] as const);
  Object.assign(process.env, env);
  try {
    return await startLocalCluster(setup.nodes, pinning.server, setup.linked, { workers: 1 });
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/**
 * Moves every thread of this process to `core` (the nodes it talks to sit on the other core)
 * and returns how to move it back. Nothing happens without a core.
 */
export function pinSelf(core: number | undefined): () => void {
  if (core === undefined) return () => {};
  const pid = String(process.pid);
  const report = execFileSync("taskset", ["-c", "-p", pid], { encoding: "utf8" });
  const before = report.trim().split(": ").pop() ?? "";
  execFileSync("taskset", ["-a", "-c", "-p", String(core), pid], { stdio: "ignore" });
  return () => void execFileSync("taskset", ["-a", "-c", "-p", before, pid], { stdio: "ignore" });
}

/** Resident set size of process `pid`, bytes (/proc/<pid>/status, VmRSS). */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

export function describePinning(p: Pinning): string {
  if (p.server === undefined) return "pinning: none (--no-pin)";
  return (
    `pinning (taskset -c): redis-server and every Cinder node (WORKERS=1) on core ${p.server}; ` +
    `the load client (the native client, or the bench process for parts 3 and 4) on core ${p.client}`
  );
}
