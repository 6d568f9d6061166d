import { MessageChannel, Worker } from "node:worker_threads";
import { makeIncarnation, makeReplicaId } from "../../crdt/index.js";
import type { ServerConfig } from "../config.js";
import type { Logger } from "../ops/logger.js";
import { workerReplicaName } from "../presence/transport-workers.js";
import type { ControlMessage, WorkerReport } from "./mesh-messages.js";
import type { WorkerBoot } from "./worker-entry.js";

const ENTRY = new URL("./worker-entry.js", import.meta.url);
/** Bound on a graceful drain: uWS gives a client that does not answer the close ~16 s. */
const DRAIN_TIMEOUT_MS = 20_000;
/** A worker that crashes more often than this is not restarted again (something is broken). */
const MAX_RESTARTS_PER_MINUTE = 10;

interface Slot {
  worker: Worker;
  replica: string;
  exited: Promise<number>;
}

export interface SupervisorOptions {
  count: number;
  settings: Partial<ServerConfig> & { nodeName: string; port: number };
  app: string;
  log: Logger;
}

/**
 * The main thread of a multi-worker node: starts the workers (each a full server on the
 * shared port), links every pair with a MessagePort, replaces a worker that crashes (telling
 * the others its presence replica is gone), and drains them all on shutdown.
 */
export class WorkerSupervisor {
  private readonly slots: Array<Slot | undefined>;
  private draining = false;
  private restarts: number[] = [];
  /** One per node start, shared by its workers (and by workers restarted later). */
  private readonly nodeIncarnation = makeIncarnation(Date.now(), Math.random());

  constructor(private readonly options: SupervisorOptions) {
    this.slots = new Array(options.count).fill(undefined);
  }

  async start(): Promise<void> {
    await Promise.all(this.slots.map((_, index) => this.spawn(index)));
  }

  /** Every worker stops accepting, closes its sockets with 1001 and ends. */
  async drain(): Promise<void> {
    this.draining = true;
    const exits = this.slots.filter((slot): slot is Slot => slot !== undefined).map((slot) => {
      slot.worker.postMessage({ k: "drain" } satisfies ControlMessage);
      return slot.exited;
    });
    await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS).unref())]);
  }

  private spawn(index: number): Promise<void> {
    const { settings, app, log } = this.options;
    const incarnation = makeIncarnation(Date.now(), Math.random());
    const boot: WorkerBoot = { index, incarnation, nodeIncarnation: this.nodeIncarnation, settings: { ...settings, workers: 1 }, app };
    const worker = new Worker(ENTRY, { workerData: boot });
    const slot: Slot = {
      worker,
      replica: makeReplicaId(workerReplicaName(settings.nodeName, index), incarnation),
      exited: new Promise((resolve) => worker.once("exit", resolve)),
    };
    this.link(index, worker);
    this.slots[index] = slot;
    return new Promise((resolve, reject) => {
      worker.on("message", (report: WorkerReport) => {
        if (report.k === "listening") resolve();
        else if (report.k === "failed") reject(new Error(`worker ${index} failed to start: ${report.error}`));
        else if (report.k === "crashed") log.error({ worker: index, error: report.error }, "worker crashed");
      });
      worker.on("error", (err) => log.error({ worker: index, err }, "worker error"));
      slot.exited.then((code) => {
        reject(new Error(`worker ${index} exited with code ${code} before listening`));
        this.exited(index, slot);
      });
    });
  }

  /** A MessagePort between the new worker and every live one. */
  private link(index: number, worker: Worker): void {
    this.slots.forEach((peer, peerIndex) => {
      if (!peer || peerIndex === index) return;
      const { port1, port2 } = new MessageChannel();
      worker.postMessage({ k: "peerUp", index: peerIndex, port: port1 } satisfies ControlMessage, [port1]);
      peer.worker.postMessage({ k: "peerUp", index, port: port2 } satisfies ControlMessage, [port2]);
    });
  }

  private exited(index: number, slot: Slot): void {
    if (this.slots[index] !== slot) return;
    this.slots[index] = undefined;
    if (this.draining) return;
    // Its sockets are gone: peers drop its presences now rather than after downPeriod.
    for (const peer of this.slots) {
      peer?.worker.postMessage({ k: "peerDown", index, replica: slot.replica } satisfies ControlMessage);
    }
    const now = Date.now();
    this.restarts = this.restarts.filter((at) => now - at < 60_000);
    if (this.restarts.length >= MAX_RESTARTS_PER_MINUTE) {
      this.options.log.fatal({ worker: index }, "workers keep crashing; not restarting this one");
      return;
    }
    this.restarts.push(now);
    this.options.log.warn({ worker: index }, "restarting worker");
    this.spawn(index).catch((err: unknown) => this.options.log.error({ worker: index, err }, "worker restart failed"));
  }
}
