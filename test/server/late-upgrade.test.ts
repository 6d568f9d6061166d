/**
 * Whether the uWS build that loads can answer a WebSocket upgrade after its handler returned
 * (`res.cork(() => res.upgrade(…))`) without closing the new socket, as `upgradesLaterSafely` says.
 *
 * In a build without uWS's fix, `HttpResponse::cork` misses the upgrade (the socket is reallocated
 * in place, at the same address) and runs its HTTP connection-close check on the new WebSocket,
 * reading its HTTP state from memory the upgrade freed. The socket is closed right after its 101
 * whenever that memory was taken again, before the cork ends, by something that left the
 * "connection: close" bit set there. In a server that is a GC or any allocation of the open handler,
 * now and then; here the open handler allocates small buffers of every size, filled with that bit,
 * so the freed memory is taken again by one of them each time. The same upgrade answered in its
 * handler, and the same allocations, never close a socket.
 */
import { describe, expect, it } from "vitest";
import WebSocket from "ws";

import { loadNativeUws, uwsCapabilities } from "../../server/native-uws.js";
import type { HttpResponse, us_listen_socket } from "../../server/uws-types.js";

const CLIENTS = 40;
/** HttpResponseData's "connection: close" bit, and not its "response pending" bit, in every byte. */
const CONNECTION_CLOSE_BITS = 0x10;

/** A bare uWS server whose upgrades are answered at once or in a later turn; each socket echoes its first message. */
async function serve(answerLater: boolean): Promise<{ port: number; closedBeforeMessage: () => number; stop: () => void }> {
  const uws = loadNativeUws();
  const app = uws.App();
  let closedBeforeMessage = 0;
  const held: Buffer[] = [];
  app.ws<{ echoed: boolean }>("/*", {
    upgrade(res: HttpResponse, req, context) {
      const key = req.getHeader("sec-websocket-key");
      const protocol = req.getHeader("sec-websocket-protocol");
      const extensions = req.getHeader("sec-websocket-extensions");
      const answer = () => res.upgrade({ echoed: false }, key, protocol, extensions, context);
      if (!answerLater) return answer();
      let aborted = false;
      res.onAborted(() => (aborted = true));
      setImmediate(() => {
        if (!aborted) res.cork(answer);
      });
    },
    open() {
      // Native allocations while the socket opens, as a busy server makes them (kept until the end).
      for (let size = 8; size <= 256; size += 8) held.push(Buffer.allocUnsafeSlow(size).fill(CONNECTION_CLOSE_BITS));
    },
    message(ws, message) {
      ws.getUserData().echoed = true;
      ws.send(message, false);
    },
    close(ws) {
      if (!ws.getUserData().echoed) closedBeforeMessage++;
    },
  });
  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) =>
    app.listen("127.0.0.1", 0, (socket) => (socket ? resolve(socket) : reject(new Error("uWS did not listen")))),
  );
  return {
    port: uws.us_socket_local_port(listenSocket),
    closedBeforeMessage: () => closedBeforeMessage,
    stop: () => app.close(),
  };
}

/** Opens `CLIENTS` sockets; each sends one message. Resolves with how many got their echo. */
async function echoes(port: number): Promise<number> {
  const outcomes = await Promise.all(
    Array.from(
      { length: CLIENTS },
      () =>
        new Promise<boolean>((resolve) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
          let settled = false;
          const settle = (echoed: boolean) => {
            if (settled) return;
            settled = true;
            ws.terminate();
            resolve(echoed);
          };
          ws.on("open", () => ws.send("ping"));
          ws.on("message", () => settle(true));
          ws.on("close", () => settle(false));
          ws.on("error", () => settle(false));
        }),
    ),
  );
  return outcomes.filter(Boolean).length;
}

describe("an upgrade answered after its handler returned", () => {
  it("is safe exactly where the build says so (upgradesLaterSafely)", async () => {
    const server = await serve(true);
    try {
      const echoed = await echoes(server.port);
      if (uwsCapabilities().upgradesLaterSafely) {
        expect(echoed).toBe(CLIENTS);
      } else {
        // Closed by uWS right after the 101, before the client's message: no echo, no close frame.
        expect(echoed).toBeLessThan(CLIENTS);
        expect(server.closedBeforeMessage()).toBe(CLIENTS - echoed);
      }
    } finally {
      server.stop();
    }
  });

  it("is never closed when answered in its handler, whatever the open handler allocates", async () => {
    const server = await serve(false);
    try {
      expect(await echoes(server.port)).toBe(CLIENTS);
      expect(server.closedBeforeMessage()).toBe(0);
    } finally {
      server.stop();
    }
  });
});
