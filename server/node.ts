import { createServer as createNetServer, type AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { loadApp } from "./app.js";
import { resolveConfig, type ServerConfig } from "./config.js";
import { listenError, portRefusal } from "./endpoint/listen-error.js";
import { drainOnSignals, type DrainOnSignalsOptions } from "./ops/drain-on-signals.js";
import { createLogger } from "./ops/logger.js";
import { loadNativeUws } from "./native-uws.js";
import { createServer } from "./server.js";
import { WorkerSupervisor } from "./worker-threads/supervisor.js";

export interface StartNodeOptions extends Partial<ServerConfig> {
  /**
   * The app module (path or file URL) whose default export sets up a server
   * (`export default (server) => server.channel("room:*", room)`). With several workers it
   * is loaded in each of them.
   */
  app: string | URL;
}

/** A running node: one or several worker threads serving the same port. */
export interface CinderNode {
  readonly port: number;
  readonly workers: number;
  /** Graceful drain: sockets closed with 1001 in batches over drainPeriod, presence peers told, then resolved. */
  close(): Promise<void>;
  /**
   * Drains on SIGTERM and SIGINT (or `options.signals`), then ends the process, as `npx cinder`
   * does. Without it a signal ends the process at once. Returns a function that removes the handlers.
   */
  drainOnSignals(options?: DrainOnSignalsOptions): () => void;
}

/**
 * Starts a node. `workers` (default: the machine's cores) threads each run a full server on
 * the same port, the kernel spreading connections over them (SO_REUSEPORT). `workers: 1`
 * runs the server on this thread. Rejects with a ListenError when the port is taken (unless
 * `reusePort`).
 */
export async function startNode(options: StartNodeOptions): Promise<CinderNode> {
  const { app, ...settings } = options;
  const config = resolveConfig({ ...settings, workers: settings.workers ?? availableParallelism() });
  const appModule = app instanceof URL ? app.href : app;
  if (config.workers === 1) {
    const server = createServer(config);
    // As in a worker thread: a promise nobody awaited failed; log it, and keep serving.
    process.on("unhandledRejection", (reason) => server.log.error({ err: reason }, "unhandled promise rejection"));
    await (await loadApp(appModule))(server);
    await server.listen();
    server.log.info({ port: server.port, workers: 1 }, "node started");
    return { port: server.port, workers: 1, close: () => server.close(), drainOnSignals: (options) => server.drainOnSignals(options) };
  }
  // Fail here, in the main thread, if only the JS fallback of uWS can load.
  loadNativeUws();
  // Workers must all bind the same port, so "any free port" is chosen once, here.
  if (config.port === 0) config.port = await freePort(config.host);
  // The workers share the port among themselves (SO_REUSEPORT), so the kernel would let them join
  // another node's workers there too: unless sharing is asked for, the port must be free.
  const refusal = config.reusePort ? undefined : await portRefusal(config.host, config.port);
  if (refusal) throw await listenError(config.host, config.port, refusal);
  const log = createLogger(config.logLevel, config.nodeName);
  process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled promise rejection"));
  const supervisor = new WorkerSupervisor({ count: config.workers, settings: config, app: appModule, log });
  try {
    await supervisor.start();
  } catch (err) {
    await supervisor.drain();
    throw err;
  }
  log.info({ port: config.port, workers: config.workers }, "node started");
  const close = () => supervisor.drain();
  return { port: config.port, workers: config.workers, close, drainOnSignals: (options) => drainOnSignals(close, log, options) };
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
