/**
 * A local cluster for benchmarks: one redis-server and N Cinder nodes sharing one port
 * (REUSE_PORT: SO_REUSEPORT across processes, so the kernel spreads the client's sockets over the nodes).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";

import { freePort } from "./server-process.js";
import { UNLIMITED, linkedTo } from "./targets.js";
import { repoRoot } from "./repo-root.js";

export interface LocalCluster {
  readonly port: number;
  readonly redis: Redis;
  readonly redisUrl: string;
  /** redis-server first, then the nodes. */
  readonly pids: number[];
  /** The Cinder node processes themselves (never a taskset wrapper), in start order. */
  readonly nodePids: number[];
  stop(): Promise<void>;
}

export interface NodeOptions {
  /** WORKERS of every node (worker threads of one process). Default 1. */
  workers?: number;
  /** taskset CPU list of the nodes, e.g. "0,1". Default: the core redis-server is pinned to. */
  cpus?: string;
  /** More environment for every node (e.g. DASHBOARD=true). */
  env?: Record<string, string>;
  /** How long a node may take to listen, ms (default START_TIMEOUT_MS). */
  startTimeoutMs?: number;
  /** The node's entry point (default: this checkout's dist/server/cli.js), e.g. another checkout's build. */
  cli?: string;
  /** More arguments for every node (e.g. --app FILE). */
  args?: string[];
}

function spawnPinned(argv: string[], env: Record<string, string>, cpus: string | undefined): ChildProcess {
  const full = cpus === undefined ? argv : ["taskset", "-c", cpus, ...argv];
  return spawn(full[0], full.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
}

async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/** Inodes of the sockets listening on TCP `port` (any address), from /proc/net/tcp{,6}. */
function listeningInodes(port: number): Set<string> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let table: string;
    try {
      table = readFileSync(file, "utf8");
    } catch {
      continue; // no IPv6 on this machine
    }
    for (const line of table.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is field 1 (ADDR:PORT), st field 3 (0A = LISTEN), inode field 9.
      if (f.length > 9 && f[1].endsWith(`:${hexPort}`) && f[3] === "0A") inodes.add(f[9]);
    }
  }
  return inodes;
}

/**
 * How many listening sockets on `port` process `pid` holds: one per worker thread once the
 * node is up. Asking /health instead would not do: with several nodes on one port, an
 * earlier node may answer for one that is still starting.
 */
function listenersOf(pid: number, port: number): number {
  const inodes = listeningInodes(port);
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1])) count++;
    } catch {
      // the fd closed while we looked
    }
  }
  return count;
}

/** CPU figures are read from /proc/<pid>: make sure the pid is node, not a taskset that forked. */
function assertIsNode(pid: number): void {
  const exe = readlinkSync(`/proc/${pid}/exe`);
  if (exe !== realpathSync(process.execPath)) throw new Error(`pid ${pid} runs ${exe}, not node`);
}

async function startNode(index: number, port: number, redisPort: number, linked: boolean, options: NodeOptions): Promise<ChildProcess> {
  const workers = options.workers ?? 1;
  const child = spawnPinned(
    [process.execPath, options.cli ?? join(repoRoot(), "dist", "server", "cli.js"), ...(options.args ?? [])],
    {
      PORT: String(port),
      HOST: "127.0.0.1",
      WORKERS: String(workers),
      LOG_LEVEL: "warn",
      ...UNLIMITED,
      NODE_NAME: benchNodeName(index),
      // The nodes listen on one port on purpose; without it the second would refuse to start.
      REUSE_PORT: "true",
      ...(linked ? linkedTo(`redis://127.0.0.1:${redisPort}`) : {}),
      ...options.env,
    },
    options.cpus,
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
  const pid = child.pid ?? -1;
  try {
    await until(() => {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
      return listenersOf(pid, port) >= workers;
    }, `${workers} listener(s) of node ${index}`, options.startTimeoutMs ?? START_TIMEOUT_MS);
    assertIsNode(pid);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`node ${index} did not start: ${(err as Error).message}\n${stderr}`);
  }
  return child;
}

/** The NODE_NAME of the node started `index`-th (what its /health answers as `node`). */
export function benchNodeName(index: number): string {
  return `bench-${index}`;
}

/** A node's start on a machine others keep busy (load averages of 20–30 on 2 cores) can take half a minute. */
export const START_TIMEOUT_MS = 60_000;

/** Processes started at once: dozens of nodes one by one take minutes on a busy machine. */
const START_BATCH = 8;

/**
 * Starts `count` processes, `START_BATCH` at a time, in index order; if any fails, the others
 * that started are killed and the first error is thrown.
 */
export async function startInBatches(count: number, start: (index: number) => Promise<ChildProcess>): Promise<ChildProcess[]> {
  const started: ChildProcess[] = [];
  for (let first = 0; first < count; first += START_BATCH) {
    const batch = Array.from({ length: Math.min(START_BATCH, count - first) }, (_, k) => start(first + k));
    const settled = await Promise.allSettled(batch);
    for (const s of settled) if (s.status === "fulfilled") started.push(s.value);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) {
      for (const child of started) child.kill("SIGKILL");
      throw failed.reason;
    }
  }
  return started;
}

/**
 * `nodes` = 0 starts redis-server alone. `linked` = false starts the nodes without REDIS_URL
 * (a plain single node, for comparison). redis-server runs on `core`, the nodes on
 * `options.cpus` (default: `core` too); undefined = not pinned.
 */
export async function startLocalCluster(
  nodes: number,
  core: number | undefined,
  linked = true,
  options: NodeOptions = {},
): Promise<LocalCluster> {
  const redisPort = await freePort();
  const port = await freePort();
  const children: ChildProcess[] = [];
  const pin = core === undefined ? undefined : String(core);
  children.push(
    spawnPinned(["redis-server", "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {}, pin),
  );
  // Probe with a plain socket first: a failed ioredis connect() reports "Unhandled error event".
  await until(() => accepts(redisPort), "redis-server");
  const redis = new Redis(redisPort, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const nodeOptions = { ...options, cpus: options.cpus ?? pin };
  try {
    children.push(...(await startInBatches(nodes, (i) => startNode(i, port, redisPort, linked, nodeOptions))));
  } catch (err) {
    redis.disconnect();
    for (const child of children) child.kill("SIGKILL");
    throw err;
  }
  const pids = children.map((c) => c.pid ?? -1);
  return {
    port,
    redis,
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    pids,
    nodePids: pids.slice(1),
    async stop() {
      for (const child of children.slice(1).reverse()) child.kill("SIGTERM");
      await sleep(500);
      redis.disconnect();
      for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

/** PUBLISH calls Redis has served so far. */
export async function publishCalls(redis: Redis): Promise<number> {
  const stats = await redis.info("commandstats");
  const match = /cmdstat_publish:calls=(\d+)/.exec(stats);
  return match ? Number(match[1]) : 0;
}
