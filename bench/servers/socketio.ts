/**
 * Socket.IO 4 baseline with the same chat semantics: "join" (acknowledged)
 * adds the socket to a room, "new_msg" {topic, body} is emitted to the whole
 * room, sender included. WebSocket transport only, default options otherwise.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { Server } from "socket.io";

import type { BaselineServer } from "./baseline-server.js";

interface NewMessage {
  topic: string;
  body: string;
}

export async function startSocketIoServer(port: number, host: string): Promise<BaselineServer> {
  const http = createServer((req, res) => {
    if (req.url === "/health") res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    else res.writeHead(404).end();
  });
  const io = new Server(http, { transports: ["websocket"], serveClient: false });
  io.on("connection", (socket) => {
    const query = socket.handshake.query.user;
    const user = typeof query === "string" ? query : "anonymous";
    socket.on("join", (room: unknown, ack?: (r: unknown) => void) => {
      if (typeof room === "string") void socket.join(room);
      if (typeof ack === "function") ack({ status: "ok" });
    });
    socket.on("new_msg", (msg: NewMessage) => {
      if (msg && typeof msg.topic === "string") io.to(msg.topic).emit("new_msg", { user, body: msg.body });
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(port, host, () => resolve());
  });
  return {
    port: (http.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => void io.close(() => resolve())),
  };
}
