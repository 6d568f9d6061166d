import type { Socket } from "phoenix";
import { afterEach } from "vitest";
import { createServer, type CinderServer, type CreateServerOptions } from "../../server/index.js";
import { RawClient } from "./raw-client.js";
import { roomChannel } from "../../server/demo/room-channel.js";
import { CLUSTER_SECRET_KEY_BASE } from "./node-process.js";

/**
 * A real Cinder node on a free loopback port, with the demo `room:*` channel unless channels are
 * given. A cluster node (redisUrl) shares the test cluster's secretKeyBase unless one is given.
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

export function socketUrl(server: CinderServer, query = "vsn=2.0.0"): string {
  return `ws://127.0.0.1:${server.port}/socket/websocket?${query}`;
}

export function httpUrl(server: CinderServer, path: string): string {
  return `http://127.0.0.1:${server.port}${path}`;
}

/** The server and phoenix.js sockets a test opens: all closed after each test. */
export function perTest(): { server: CinderServer | undefined; sockets: Socket[] } {
  const opened: { server: CinderServer | undefined; sockets: Socket[] } = { server: undefined, sockets: [] };
  afterEach(async () => {
    for (const socket of opened.sockets.splice(0)) socket.disconnect();
    await opened.server?.close();
    opened.server = undefined;
  });
  return opened;
}

/**
 * The server and raw sockets a test opens (`open` connects to the current server; `keep` takes a
 * socket opened otherwise): all closed after each test.
 */
export function rawPerTest(): { server: CinderServer | undefined; open(query?: string): Promise<RawClient>; keep(client: RawClient): RawClient } {
  const clients: RawClient[] = [];
  const opened = {
    server: undefined as CinderServer | undefined,
    keep(client: RawClient): RawClient {
      clients.push(client);
      return client;
    },
    async open(query = "vsn=2.0.0"): Promise<RawClient> {
      return opened.keep(await RawClient.open(socketUrl(opened.server as CinderServer, query)));
    },
  };
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await opened.server?.close();
    opened.server = undefined;
  });
  return opened;
}
