/**
 * The backend of the hooks benchmark, as its own process: `node hook-backend.js <port>` answers
 * every connect and join hook with allow (the user id from the connect params), keep-alive, and
 * prints "ready" once it listens. It does no work of its own: what is measured is the node's
 * side of a hook call.
 */
import { createServer } from "node:http";

const port = Number(process.argv[2]);
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { hook: string; params?: Record<string, string> };
    const answer = body.hook === "connect" ? { allow: true, userId: body.params?.user ?? "bench" } : { allow: true };
    const data = JSON.stringify(answer);
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(data) }).end(data);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1", () => process.stdout.write("ready\n"));
