/**
 * A local cluster for benchmarks: one redis-server and N Cinder nodes sharing one port
 * (SO_REUSEPORT across processes, so the kernel spreads the client's sockets over the nodes).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";

import { freePort } from "./server-process.js";
import { repoRoot } from "./repo-root.js";

export interface LocalCluster {
  readonly port: number;
  readonly redis: Redis;
  readonly redisUrl: string;
  readonly pids: number[];
  stop(): Promise<void>;
}

function spawnPinned(argv: string[], env: Record<string, string>, core: number | undefined): ChildProcess {
  const full = core === undefined ? argv : ["taskset", "-c", String(core), ...argv];
  return spawn(full[0], full.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** `nodes` = 0 starts redis-server alone. `linked` = false starts the nodes without REDIS_URL (a plain single node, for comparison). */
export async function startLocalCluster(nodes: number, core: number | undefined, linked = true): Promise<LocalCluster> {
  const redisPort = await freePort();
  const port = await freePort();
  const children: ChildProcess[] = [];
  children.push(
    spawnPinned(["redis-server", "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {}, core),
  );
  const redis = new Redis(redisPort, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 1 });
  await until(async () => redis.connect().then(() => true, () => false), "redis-server");
  const cli = join(repoRoot(), "dist", "server", "cli.js");
  for (let i = 0; i < nodes; i++) {
    children.push(
      spawnPinned(
        [process.execPath, cli],
        {
          PORT: String(port),
          HOST: "127.0.0.1",
          WORKERS: "1",
          LOG_LEVEL: "warn",
          NODE_NAME: `bench-${i}`,
          ...(linked ? { REDIS_URL: `redis://127.0.0.1:${redisPort}` } : {}),
        },
        core,
      ),
    );
    await until(async () => {
      const health = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.json(), () => null);
      return health !== null;
    }, `node ${i}`);
  }
  // Every node must be listening before the client connects; give the last ones a moment.
  await sleep(500);
  return {
    port,
    redis,
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    pids: children.map((c) => c.pid ?? -1),
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
