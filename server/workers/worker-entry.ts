import { parentPort, workerData } from "node:worker_threads";
import { loadApp } from "../app.js";
import type { ServerConfig } from "../config.js";
import { CinderServer } from "../server.js";
import type { ControlMessage, WorkerReport } from "./mesh-messages.js";
import { PeerMesh } from "./peer-mesh.js";

/** What the main thread hands each worker. */
export interface WorkerBoot {
  index: number;
  incarnation: string;
  nodeIncarnation: string;
  settings: Partial<ServerConfig>;
  app: string;
}

const boot = workerData as WorkerBoot;
const port = parentPort;
if (!port) throw new Error("worker-entry runs only as a worker thread");
const report = (message: WorkerReport) => port.postMessage(message);
const mesh = new PeerMesh(boot.index);
let server: CinderServer | undefined;
let ending = false;

/**
 * A worker must never end while uWS still holds sockets (Node aborts the whole process), and
 * it ends by itself once nothing keeps it alive: so every way out closes the sockets first,
 * then the ports that keep the thread running.
 */
function end(): void {
  mesh.close();
  port!.close();
}

port.on("message", (message: ControlMessage) => {
  switch (message.k) {
    case "peerUp":
      mesh.addPeer(message.index, message.port);
      break;
    case "peerDown":
      mesh.removePeer(message.index);
      server?.presence.replicaGone(message.replica);
      break;
    case "drain":
      if (ending) return;
      ending = true;
      void (server ? server.close() : Promise.resolve()).finally(end);
      break;
  }
});

function crash(error: unknown): void {
  if (ending) return;
  ending = true;
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  server?.log.fatal({ err: error }, "worker crashed; closing its sockets");
  report({ k: "crashed", error: text });
  server?.crash();
  end();
}
process.on("uncaughtException", crash);
process.on("unhandledRejection", crash);

try {
  server = new CinderServer(boot.settings, { index: boot.index, incarnation: boot.incarnation, nodeIncarnation: boot.nodeIncarnation, mesh });
  await (await loadApp(boot.app))(server);
  await server.listen();
  report({ k: "listening", port: server.port });
} catch (error) {
  ending = true;
  report({ k: "failed", error: error instanceof Error ? error.message : String(error) });
  server?.crash();
  end();
}
