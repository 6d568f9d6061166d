/**
 * The processes of a chaos run: one redis-server and the Cinder nodes, each on its own free
 * loopback port, their logs in one directory.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { freePort } from "../server-process.js";
import { CinderNode, type NodeSpec } from "./cinder-node.js";
import type { Ledger } from "./ledger.js";
import { RedisProcess, redisOnce } from "./redis-process.js";

export class ChaosCluster {
  private constructor(
    readonly redis: RedisProcess,
    readonly nodes: readonly CinderNode[],
    readonly logDir: string,
  ) {}

  static async start(specs: readonly NodeSpec[], ledger: Ledger, env: Record<string, string> = {}): Promise<ChaosCluster> {
    const logDir = mkdtempSync(join(tmpdir(), "cinder-chaos-"));
    const redis = new RedisProcess(await freePort(), ledger, logDir);
    const nodes: CinderNode[] = [];
    for (const spec of specs) nodes.push(new CinderNode(spec, await freePort(), redis.url, ledger, logDir, env));
    const cluster = new ChaosCluster(redis, nodes, logDir);
    try {
      await redis.start();
      for (const node of nodes) await node.start();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get ports(): number[] {
    return this.nodes.map((node) => node.port);
  }

  /** One command on a connection of its own (e.g. CLIENT KILL TYPE pubsub). */
  command(name: string, ...args: string[]): Promise<unknown> {
    return redisOnce(this.redis.port, name, ...args);
  }

  /** Every node and Redis, stopped at once: nothing of the run is measured any more. */
  async stop(): Promise<void> {
    for (const node of this.nodes) if (node.running) node.signal("SIGKILL");
    await Promise.all(this.nodes.map((node) => node.exited()));
    await this.redis.kill();
  }
}
