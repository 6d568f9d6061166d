import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { Redis } from "ioredis";
import { freePort } from "./node-process.js";
import { waitFor } from "./wait.js";

const BINARY = "redis-server";

/**
 * A private `redis-server` on a loopback port, for cluster tests: no persistence, so a
 * restart is a clean Redis (like a failover to an empty instance). It can be stopped and
 * started again on the same port to simulate an outage. Always stop it in `afterAll`;
 * it is also killed if the test process exits.
 */
export class RedisServer {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    assertInstalled();
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts (again) on the same port and waits until it answers PING. */
  async restart(): Promise<void> {
    if (this.child) return;
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"];
    const child = spawn(BINARY, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (d) => (output += d));
    child.stderr?.on("data", (d) => (output += d));
    let exitedEarly = false;
    this.exited = new Promise((resolve) => child.once("exit", () => ((exitedEarly = true), resolve())));
    this.child = child;
    killOnExit.add(child);
    await waitFor(
      async () => {
        if (exitedEarly) throw new Error(`redis-server exited on port ${this.port}:\n${output}`);
        return answersPing(this.port);
      },
      () => `redis-server to answer PING on port ${this.port}:\n${output}`,
    ).catch(async (error: unknown) => {
      await this.stop();
      throw error;
    });
  }

  /**
   * Stalls it (SIGSTOP): connections stay open and commands are accepted, but nothing is answered
   * until `resume()`, as on a long fork, a swapped-out host or a stuck script.
   */
  pause(): void {
    this.child?.kill("SIGSTOP");
  }

  resume(): void {
    this.child?.kill("SIGCONT");
  }

  /** Kills it (SIGKILL: an outage, not a shutdown) and waits until the port is closed. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    killOnExit.delete(child);
    child.kill("SIGKILL");
    await this.exited;
  }
}

/** A plain client of the test itself, to look at a Redis from outside (it rides out deliberate outages). */
export function observer(redis: { url: string }): Redis {
  const client = new Redis(redis.url, { retryStrategy: () => 20, maxRetriesPerRequest: null });
  client.on("error", () => {}); // refused connections during deliberate outages
  return client;
}

/** Subscribers Redis counts on `channel` (PUBSUB NUMSUB, or SHARDNUMSUB for sharded channels). */
export async function subscribers(client: Redis, channel: string, sharded = false): Promise<number> {
  const reply = (await client.call("PUBSUB", sharded ? "SHARDNUMSUB" : "NUMSUB", channel)) as [string, number];
  return Number(reply[1]);
}

export async function waitForSubscribers(client: Redis, channel: string, count: number, sharded = false, timeoutMs = 5000): Promise<void> {
  let last = -1;
  await waitFor(async () => (last = await subscribers(client, channel, sharded)) === count, () => `${count} subscribers of ${channel} (have ${last})`, timeoutMs);
}

function assertInstalled(): void {
  const probe = spawnSync(BINARY, ["--version"], { stdio: "ignore" });
  if (probe.error || probe.status !== 0) {
    throw new Error(`${BINARY} is not on PATH; cluster tests need a real Redis: apt-get install -y redis-server`);
  }
}

/** One raw PING over TCP, so the helper does not depend on the client under test. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

const killOnExit = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of killOnExit) child.kill("SIGKILL");
});
