import type { Redis } from "ioredis";
import type { Socket } from "phoenix";
import { afterAll, afterEach } from "vitest";
import type { CinderServer, CreateServerOptions } from "../../server/index.js";
import { NodeProcess, type NodeOptions } from "./node-process.js";
import { phoenixWebSocket } from "./phoenix-channel.js";
import { RawClient } from "./raw-client.js";
import { RedisCluster } from "./redis-cluster.js";
import { RedisServer, observer } from "./redis-server.js";
import { socketUrl, startServer } from "./server.js";

/** Long enough for several node processes to stop and a Redis to go. */
const CLOSE_TIMEOUT_MS = 60_000;

/**
 * What a test opens, closed for it in the reverse order of opening (clients before the servers
 * they talk to, nodes before their Redis), even when the test failed: after each test with
 * `perTest()`, after the file's last test with `perFile()`. Each method starts its part the one
 * way the tests start it (startServer, NodeProcess.start, RedisServer.start, RedisCluster.start,
 * RawClient.open).
 */
export class Opened {
  private readonly closers: Array<() => unknown> = [];

  /** A server in this process (startServer); closed afterwards. */
  async server(options?: CreateServerOptions): Promise<CinderServer> {
    return this.keep(await startServer(options), (server) => server.close());
  }

  /** A node process (NodeProcess.start); killed afterwards (SIGKILL: a test that wants a graceful stop asks for it). */
  async node(options?: NodeOptions): Promise<NodeProcess> {
    return this.keep(await NodeProcess.start(options), (node) => node.stop("SIGKILL"));
  }

  /** A private redis-server (RedisServer.start); resumed if paused, and stopped afterwards. */
  async redis(): Promise<RedisServer> {
    return this.keep(await RedisServer.start(), (redis) => {
      redis.resume();
      return redis.stop();
    });
  }

  /** A private Redis Cluster (RedisCluster.start); stopped afterwards. */
  async redisCluster(options?: { masters?: number }): Promise<RedisCluster> {
    return this.keep(await RedisCluster.start(options), (cluster) => cluster.stop());
  }

  /** A client of the test itself looking at `redis` from outside; disconnected afterwards. */
  observer(redis: { url: string }): Redis {
    return this.keep(observer(redis), (client) => client.disconnect());
  }

  /** A raw WebSocket client of a server or node (at `query`), or of a URL; cut afterwards. */
  async raw(target: { port: number } | string, options: { query?: string; protocols?: string[]; headers?: Record<string, string> } = {}): Promise<RawClient> {
    const url = typeof target === "string" ? target : socketUrl(target, options.query);
    return this.rawClient(await RawClient.open(url, options));
  }

  /** A raw client of a server or node, joined to `topic` (`ref` is the join_ref its later frames must carry); fails unless the join is answered ok. */
  async joinedClient(target: { port: number }, topic: string, payload: Record<string, unknown> = {}, ref?: string): Promise<RawClient> {
    const client = await this.raw(target);
    await client.joined(topic, payload, ref);
    return client;
  }

  /** A raw client opened otherwise; cut afterwards. */
  rawClient(client: RawClient): RawClient {
    return this.keep(client, (c) => c.ws.terminate());
  }

  /** phoenix.js over a WebSocket to a server or node on `port` (phoenixWebSocket), connected; disconnected afterwards. */
  phoenix(port: number, params?: Record<string, string>, timeout?: number): Socket {
    return this.socket(phoenixWebSocket(port, params, timeout));
  }

  /** A client socket (phoenix.js's or ours, on any transport); disconnected afterwards. */
  socket<T extends { disconnect(): unknown }>(socket: T): T {
    return this.keep(socket, (s) => s.disconnect());
  }

  /** Anything else, with how to close it. */
  keep<T>(thing: T, close: (thing: T) => unknown): T {
    this.closers.push(() => close(thing));
    return thing;
  }

  /** Closes everything, newest first; every closer runs even if one fails, and the first failure is thrown. */
  async closeAll(): Promise<void> {
    let failure: unknown;
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }
}

/** What each test of the file opens through it, closed after that test. */
export function perTest(): Opened {
  const opened = new Opened();
  afterEach(() => opened.closeAll(), CLOSE_TIMEOUT_MS);
  return opened;
}

/** What the file's tests (or its beforeAll) open through it, closed after the last one. */
export function perFile(): Opened {
  const opened = new Opened();
  afterAll(() => opened.closeAll(), CLOSE_TIMEOUT_MS);
  return opened;
}
