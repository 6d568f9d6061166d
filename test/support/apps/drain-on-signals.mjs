// A program that starts Cinder from its own code, with createServer or startNode (CINDER_START),
// and asks it to drain on signals.
import { createServer, roomChannel, startNode } from "../../../dist/server/index.js";

const port = Number(process.env.PORT);
const onDrained = () => process.stdout.write("onDrained ran\n");
if (process.env.CINDER_START === "startNode") {
  const node = await startNode({ app: new URL("./probe-app.mjs", import.meta.url), port, host: "127.0.0.1", workers: 2 });
  node.drainOnSignals({ onDrained });
} else {
  const server = await createServer({ port, host: "127.0.0.1", channels: { "room:*": roomChannel } }).listen();
  server.drainOnSignals({ onDrained });
}
process.stdout.write("ready\n");
