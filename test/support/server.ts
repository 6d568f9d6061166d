import { createServer, type CinderServer, type CreateServerOptions } from "../../server/index.js";
import { roomChannel } from "../../server/demo/room-channel.js";
import { CLUSTER_SECRET_KEY_BASE } from "./node-process.js";

/**
 * A real Cinder node in this process on a free loopback port (the one way a test starts a
 * server; `perTest().server(…)` also closes it), with the demo `room:*` channel unless channels
 * are given. A cluster node (redisUrl) shares the test cluster's secretKeyBase unless one is given.
 */
export async function startServer(options: CreateServerOptions = {}): Promise<CinderServer> {
  const server = createServer({
    port: 0,
    host: "127.0.0.1",
    logLevel: "silent",
    channels: options.channels ?? { "room:*": roomChannel },
    ...(options.redisUrl !== undefined && !("secretKeyBase" in options) ? { secretKeyBase: CLUSTER_SECRET_KEY_BASE } : {}),
    ...options,
  });
  return server.listen();
}

/** The WebSocket URL of a server or node process on loopback. */
export function socketUrl(target: { port: number }, query = "vsn=2.0.0"): string {
  return `ws://127.0.0.1:${target.port}/socket/websocket?${query}`;
}

export function httpUrl(target: { port: number }, path: string): string {
  return `http://127.0.0.1:${target.port}${path}`;
}
