import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { loadApp } from "../app.js";
import type { ServerConfig } from "../config.js";
import { MAIN_THREAD } from "../fabric/mesh-messages.js";
import { PeerMesh } from "../fabric/mesh.js";
import { CinderServer } from "../server.js";
import { ListenError } from "../endpoint/listen-error.js";
import type { ControlMessage, WorkerReport } from "./control-messages.js";

/** What the main thread hands each worker. */
export interface WorkerBoot {
  index: number;
  incarnation: string;
  nodeIncarnation: string;
  /** A key the node's threads share (LongPoll session tokens without secretKeyBase). */
  nodeSecret: string;
  settings: Partial<ServerConfig>;
  app: string;
  /** This worker's end of its link to the main thread. */
  mainThreadPort: MessagePort;
}

const boot = workerData as WorkerBoot;
const port = parentPort;
if (!port) throw new Error("worker-entry runs only as a worker thread");
const report = (message: WorkerReport) => port.postMessage(message);
const mesh = new PeerMesh();
mesh.addPeer(MAIN_THREAD, boot.mainThreadPort);
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
      void mesh.removePeer(message.index);
      break;
    case "drain":
      if (ending) return;
      ending = true;
      (server ? server.close() : Promise.resolve())
        .catch((err: unknown) => server?.log.error({ err }, "drain failed"))
        .finally(end);
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
// A promise nobody awaited failed: an error to log, not a reason to drop this thread's sockets.
process.on("unhandledRejection", (reason) => server?.log.error({ err: reason }, "unhandled promise rejection"));

try {
  server = new CinderServer(boot.settings, { index: boot.index, incarnation: boot.incarnation, nodeSecret: boot.nodeSecret, mesh });
  await (await loadApp(boot.app))(server);
  await server.listen();
  report({ k: "listening", port: server.port });
} catch (error) {
  ending = true;
  const listen = error instanceof ListenError ? { code: error.code } : undefined;
  report({ k: "failed", error: error instanceof Error ? error.message : String(error), listen });
  server?.crash();
  end();
}
