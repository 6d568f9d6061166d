import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An HTTP proxy in front of a server that refuses every WebSocket upgrade, as some corporate
 * proxies and middleboxes do: plain requests (the page, the bundle, LongPoll) pass through,
 * an upgrade is answered 403 and closed, so the browser's WebSocket fails without ever opening.
 */
export class WebSocketBlockingProxy {
  /** Upgrade requests refused so far. */
  refusedUpgrades = 0;

  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  static async start(targetPort: number): Promise<WebSocketBlockingProxy> {
    const server = createServer((incoming, outgoing) => {
      const upstream = request(
        { host: "127.0.0.1", port: targetPort, method: incoming.method, path: incoming.url, headers: incoming.headers },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      upstream.on("error", () => outgoing.destroy());
      incoming.pipe(upstream);
    });
    let proxy: WebSocketBlockingProxy | undefined;
    server.on("upgrade", (_request, socket) => {
      if (proxy) proxy.refusedUpgrades += 1;
      socket.end("HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    proxy = new WebSocketBlockingProxy(server, `http://127.0.0.1:${port}`);
    return proxy;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
