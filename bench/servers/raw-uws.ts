/**
 * The ceiling: a bare uWebSockets.js pub/sub server that speaks just enough
 * Phoenix V2 JSON for the load client (join → subscribe, new_msg → app.publish
 * with the same broadcast frame shape Cinder sends, heartbeat/other → ok reply).
 * No channels, no presence, no per-message routing beyond one JSON.parse.
 */
import uWS from "uWebSockets.js";

import type { BaselineServer } from "./baseline-server.js";

interface SocketData {
  user: string;
}

type Frame = [string | null, string | null, string, string, Record<string, unknown>];

function reply(ws: uWS.WebSocket<SocketData>, frame: Frame, response: Record<string, unknown> = {}): void {
  ws.send(JSON.stringify([frame[0], frame[1], frame[2], "phx_reply", { status: "ok", response }]));
}

/** The JS fallback of the package would make the ceiling meaningless. */
export function assertNativeUws(): void {
  if (!("getParts" in uWS)) throw new Error("uWebSockets.js loaded its JS fallback, not the native addon");
}

export async function startRawUwsServer(port: number, host: string): Promise<BaselineServer> {
  assertNativeUws();
  const app = uWS.App();
  // Kept only so close() can end the open sockets; uWS has no app-wide close here.
  const open = new Set<uWS.WebSocket<SocketData>>();
  app.ws<SocketData>("/socket/websocket", {
    idleTimeout: 60,
    maxPayloadLength: 64 * 1024,
    upgrade: (res, req, context) => {
      const user = new URLSearchParams(req.getQuery() ?? "").get("user") ?? "anonymous";
      res.upgrade<SocketData>(
        { user },
        req.getHeader("sec-websocket-key"),
        req.getHeader("sec-websocket-protocol"),
        req.getHeader("sec-websocket-extensions"),
        context,
      );
    },
    open: (ws) => void open.add(ws),
    close: (ws) => void open.delete(ws),
    message: (ws, message) => {
      let frame: Frame;
      try {
        frame = JSON.parse(Buffer.from(message).toString("utf8")) as Frame;
      } catch {
        ws.end(1003, "bad frame");
        return;
      }
      const [, , topic, event, payload] = frame;
      if (event === "phx_join") {
        ws.subscribe(topic);
        reply(ws, frame);
      } else if (event === "new_msg") {
        // app.publish (not ws.publish) so the sender also receives it, as in Phoenix broadcast/3.
        app.publish(topic, JSON.stringify([null, null, topic, "new_msg", { user: ws.getUserData().user, body: payload.body }]));
        reply(ws, frame);
      } else if (event === "phx_leave") {
        ws.unsubscribe(topic);
        reply(ws, frame);
      } else {
        reply(ws, frame);
      }
    },
  });
  app.get("/health", (res) => {
    res.writeHeader("content-type", "application/json").end('{"status":"ok"}');
  });
  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(host, port, (socket) => (socket ? resolve(socket) : reject(new Error(`cannot listen on ${host}:${port}`))));
  });
  return {
    port: uWS.us_socket_local_port(listenSocket),
    close: async () => {
      uWS.us_listen_socket_close(listenSocket);
      for (const ws of [...open]) ws.close();
    },
  };
}
