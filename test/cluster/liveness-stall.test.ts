import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, it } from "vitest";
import { NodeLiveness } from "../../server/cluster/liveness.js";
import { RedisServer } from "../support/redis-server.js";
import { sleep } from "../support/wait.js";
import { observer, testConnections, waitConnected } from "./support.js";

/**
 * A measurement, not a test (skipped unless asked for):
 *   MEASURE_LIVENESS_STALL=1 npx vitest run test/cluster/liveness-stall.test.ts
 * For each (ttl, refresh, stall) it blocks the event loop of a node just before a refresh is
 * due (the worst case) and counts how often an observer in another process, reading the key
 * every 25 ms, found it missing — each miss is a chance for a peer to declare a false down.
 */
const CASES: Array<[ttlMs: number, refreshMs: number, stallMs: number]> = [
  [3000, 1000, 1500],
  [3000, 1000, 1900],
  [3000, 1000, 2200],
  [3000, 1000, 2600],
  [2500, 1000, 1500],
  [2000, 1000, 1500],
];

let redis: RedisServer;
beforeAll(async () => {
  if (process.env.MEASURE_LIVENESS_STALL === "1") redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.stop();
});

describe.runIf(process.env.MEASURE_LIVENESS_STALL === "1")("liveness under event-loop stalls", () => {
  it("measures", async () => {
    const lines: string[] = [];
    for (const [ttlMs, refreshMs, stallMs] of CASES) {
      const connections = testConnections(redis, "busy");
      await waitConnected(connections, "busy");
      const busy = new NodeLiveness({ connections, nodeName: "busy", replica: "busy#1", ttlMs, refreshMs });
      let lapsed = 0;
      busy.onRevived(() => lapsed++);
      busy.start();
      const watcher = externalWatcher(redis.port, "cinder:node:busy");
      const outside = observer(redis);
      await sleep(300); // the watcher connects
      for (;;) {
        const ttl = await outside.pttl("cinder:node:busy");
        if (ttl > 0 && ttl <= ttlMs - refreshMs + 50) break;
        await sleep(5);
      }
      outside.disconnect();
      const until = Date.now() + stallMs;
      while (Date.now() < until) {
        // stalled
      }
      await sleep(2000);
      const misses = await watcher.stop();
      lines.push(`ttl=${ttlMs} refresh=${refreshMs} stall=${stallMs}: key lapsed=${lapsed > 0} external reads missing it=${misses}`);
      await busy.stop();
      await connections.close();
    }
    console.log(lines.join("\n"));
  }, 120_000);
});

function externalWatcher(port: number, key: string): { stop(): Promise<number> } {
  const script = `const {Redis}=require("ioredis");const r=new Redis(${port});let miss=0;
setInterval(async()=>{if(await r.get(${JSON.stringify(key)})===null)miss++;},25);
process.on("SIGTERM",()=>{process.stdout.write(String(miss));process.exit(0)});`;
  const child = spawn(process.execPath, ["-e", script], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  return {
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      return Number(output);
    },
  };
}
