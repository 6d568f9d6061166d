/**
 * False positives of crash detection: a node whose event loop stalls must not be declared down
 * by its peers. For each (ttl, refresh, stall) the node blocks its event loop for `stall` ms,
 * starting just before a refresh is due (the worst moment), while a separate process reads the
 * node's liveness key every 25 ms and counts the reads that found it missing: each such read is
 * a moment a peer could have declared the node down.
 *   npm run bench -- liveness
 */
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";

import { NodeLiveness } from "../../server/redis/liveness.js";
import { RedisConnections } from "../../server/redis/redis-connections.js";
import { startLocalCluster } from "../lib/cluster-processes.js";
import { repoRoot } from "../lib/repo-root.js";

const CASES: Array<[ttlMs: number, refreshMs: number, stallMs: number]> = [
  [3000, 1000, 1500],
  [3000, 1000, 1900],
  [3000, 1000, 2200],
  [3000, 1000, 2600],
  [2500, 1000, 1500],
  [2000, 1000, 1500],
];

export async function run(): Promise<void> {
  const local = await startLocalCluster(0, undefined);
  const port = Number(new URL(local.redisUrl).port);
  console.log("| TTL ms | refresh ms | stall ms | key lapsed | outside reads that missed it |");
  console.log("|---:|---:|---:|---|---:|");
  try {
    for (const [ttlMs, refreshMs, stallMs] of CASES) {
      const connections = new RedisConnections({ url: local.redisUrl, nodeName: "busy" });
      await until(() => connections.status().connected);
      const busy = new NodeLiveness({ connections, nodeName: "busy", replicas: () => ["busy/w0#1"], ttlMs, refreshMs });
      let lapsed = false;
      busy.onRevived(() => (lapsed = true));
      busy.start();
      const watcher = watchKey(port, "cinder:node:busy");
      await sleep(500);
      // Wait until a refresh is about due, then stall: the key then lives only ttl − refresh.
      const probe = new Redis(port, "127.0.0.1");
      for (;;) {
        const ttl = await probe.pttl("cinder:node:busy");
        if (ttl > 0 && ttl <= ttlMs - refreshMs + 50) break;
        await sleep(5);
      }
      probe.disconnect();
      const stallEnds = Date.now() + stallMs;
      while (Date.now() < stallEnds) {
        // the event loop is stalled
      }
      await sleep(2000);
      const misses = await watcher.stop();
      console.log(`| ${ttlMs} | ${refreshMs} | ${stallMs} | ${lapsed ? "yes" : "no"} | ${misses} |`);
      await busy.stop();
      await connections.close();
    }
  } finally {
    await local.stop();
  }
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("redis did not become ready");
    await sleep(20);
  }
}

/** A separate process (so this one's stall does not stop it) counting reads that miss `key`. */
function watchKey(port: number, key: string): { stop(): Promise<number> } {
  const script = `const {Redis}=require("ioredis");const r=new Redis(${port},"127.0.0.1");let miss=0;
setInterval(async()=>{if(await r.get(${JSON.stringify(key)})===null)miss++;},25);
process.on("SIGTERM",()=>{process.stdout.write(String(miss));process.exit(0)});`;
  const child = spawn(process.execPath, ["-e", script], { cwd: repoRoot(), stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  return {
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      return Number(output);
    },
  };
}
