/**
 * Several raw uWebSockets.js processes sharing one port (SO_REUSEPORT, as uSockets listens on
 * Linux) and fanning out through one redis-server: the baseline of a many-node Cinder cluster.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

import type { Redis } from "ioredis";

import { START_TIMEOUT_MS, startInBatches, startLocalCluster } from "./cluster-processes.js";
import { repoRoot } from "./repo-root.js";

export interface RawUwsGroup {
  readonly port: number;
  /** The uWS processes themselves (never a taskset wrapper). */
  readonly pids: number[];
  /** the group's redis-server: a client, and its pid */
  readonly redis: Redis;
  readonly redisPid: number;
  stop(): Promise<void>;
}

/** Starts one process and waits for its "listening <port>" line. */
function startOne(port: number, redisUrl: string, cpus: string | undefined, timeoutMs = START_TIMEOUT_MS): Promise<ChildProcess> {
  const argv = [process.execPath, join(repoRoot(), "dist", "bench", "servers", "main.js"), "raw-uws", "--port", String(port), "--host", "127.0.0.1", "--redis", redisUrl];
  // taskset execs the command, so the child's pid is the node process itself.
  const full = cpus === undefined ? argv : ["taskset", "-c", cpus, ...argv];
  const child = spawn(full[0], full.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error("timed out")), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`raw uWS process did not start: ${err.message}\n${stderr}`));
    };
    child.once("exit", (code) => fail(new Error(`exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      if (!line.startsWith("listening ")) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      resolve(child);
    });
  });
}

/** redis-server on `redisCpus`, then `processes` raw uWS processes on `cpus`, all on one fresh port. */
export async function startRawUwsGroup(processes: number, redisCpu: number | undefined, cpus: string | undefined): Promise<RawUwsGroup> {
  const redis = await startLocalCluster(0, redisCpu);
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
            child.once("exit", () => (clearTimeout(timer), resolve()));
          }),
      ),
    );
    await redis.stop();
  };
  try {
    children.push(...(await startInBatches(processes, () => startOne(redis.port, redis.redisUrl, cpus))));
  } catch (err) {
    await stop();
    throw err;
  }
  return { port: redis.port, pids: children.map((c) => c.pid ?? -1), redis: redis.redis, redisPid: redis.pids[0], stop };
}
