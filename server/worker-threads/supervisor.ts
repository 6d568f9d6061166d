import { randomBytes } from "node:crypto";
import { MessageChannel, Worker } from "node:worker_threads";
import { makeIncarnation, makeReplicaId, type ReplicaId } from "../../crdt/index.js";
import type { ServerConfig } from "../config.js";
import type { MemoryMedium } from "../fabric/medium.js";
import { fabricOverRedis } from "../fabric/redis-medium.js";
import { RedisConnections } from "../redis/redis-connections.js";
import { leasesFor } from "../leases/leases-for.js";
import { serveWorkerLeases } from "../leases/leases-workers.js";
import { historyFor } from "../history/history-for.js";
import { serveWorkerHistory } from "../history/history-workers.js";
import { MainThreadFabric } from "../fabric/fabric-main-thread.js";
import { workerReplicaName } from "../fabric/replica-names.js";
import { settleWithin } from "../fabric/settle-within.js";
import { ListenError } from "../endpoint/listen-error.js";
import type { Logger } from "../ops/logger.js";
import { nodeMetrics } from "../node-metrics.js";
import type { CounterStore } from "../counters/counter-store.js";
import { counterStoreFor } from "../counters/counter-store-for.js";
import { serveWorkerCounters } from "../counters/counter-store-workers.js";
import { parseGossipMessage } from "../presence/messages.js";
import { STATS_LANE, type StatsAnswer } from "../stats/node-report.js";
import type { ControlMessage, WorkerReport } from "./control-messages.js";
import type { WorkerBoot } from "./worker-entry.js";
import type { NodeWebhooks } from "../webhooks/node-webhooks.js";
import { nodeWebhooksFor } from "../webhooks/webhooks-for.js";
import { serveWorkerWebhooks } from "../webhooks/webhooks-workers.js";
import { resolveWebhooks } from "../webhooks/webhook-settings.js";

const ENTRY = new URL("./worker-entry.js", import.meta.url);
/** Bound on a graceful drain past drainPeriod: uWS gives a client that does not answer the close ~16 s. */
const DRAIN_GRACE_MS = 20_000;
/** A worker that crashes more often than this is not restarted again (something is broken). */
const MAX_RESTARTS_PER_MINUTE = 10;

interface Slot {
  worker: Worker;
  replica: ReplicaId;
  exited: Promise<number>;
  /** Settles once the worker exited and everything it posted to the main thread was read (its last counter increments among it). */
  ended: Promise<void>;
}

export interface SupervisorOptions {
  count: number;
  settings: ServerConfig;
  app: string;
  log: Logger;
}

/**
 * The main thread of a multi-worker node: starts the workers (each a full server on the
 * shared port), links every pair with a MessagePort and each of them to the main thread's fabric (the
 * node's place on the fabric, holding its Redis connections), replaces a worker that crashes,
 * and drains them all on shutdown.
 */
export class WorkerSupervisor {
  private readonly slots: Array<Slot | undefined>;
  private draining = false;
  private restarts: number[] = [];
  /** One per node start, shared by its workers (and by workers restarted later). */
  private readonly nodeIncarnation = makeIncarnation(Date.now(), Math.random());
  /** A key only this node's threads know (LongPoll session tokens, when no secretKeyBase is set). */
  private readonly nodeSecret = randomBytes(32).toString("base64");
  private readonly fabric: MainThreadFabric;
  private readonly counters: CounterStore;
  /** The node's webhooks, its workers' notices aggregated here (undefined without the setting). */
  private readonly webhooks: NodeWebhooks | undefined;

  constructor(private readonly options: SupervisorOptions) {
    this.slots = new Array(options.count).fill(undefined);
    const { settings, log } = options;
    // The main thread is the process: it collects the process metrics, and the fabric's.
    const metrics = nodeMetrics({ processMetrics: true, eventLoopResolutionMs: settings.eventLoopResolutionMs });
    const replicas = () => this.slots.flatMap((slot) => (slot ? [slot.replica] : []));
    // The node's Redis fabric, and the medium of the lanes it serves its workers (memory without Redis).
    const { fabric: redis, medium } = settings.redisUrl
      ? fabricOverRedis({
          connections: new RedisConnections({ url: settings.redisUrl, nodeName: settings.nodeName, sharded: settings.redisSharded, logger: log }),
          nodeName: settings.nodeName,
          nodeIncarnation: this.nodeIncarnation,
          sharded: settings.redisSharded,
          replicas,
          checkGossip: parseGossipMessage,
          log,
          metrics,
        })
      : { fabric: undefined, medium: { kind: "memory" } satisfies MemoryMedium };
    this.fabric = new MainThreadFabric({
      nodeName: settings.nodeName,
      replicas,
      redis,
      log,
    });
    // The node's counters: in memory, or coalesced into one flush to Redis per node.
    this.counters = counterStoreFor(medium, { maxKeys: settings.counterMaxKeys, flushMs: settings.counterFlushMs, now: Date.now, metrics, log });
    serveWorkerCounters(this.fabric, this.counters, log);
    // The node's leases: through Redis, or in memory here.
    serveWorkerLeases(this.fabric, leasesFor(medium, () => metrics.topicWorkerStateEvictions.inc()));
    // The node's history: in Redis, or in memory here (delivered to the workers with interest).
    const stores = { max: settings.historyMaxPendingStores, timeoutMs: settings.historyStoreTimeoutMs };
    const history = historyFor(medium, { maxBytes: settings.historyMaxBytes, stores, coalesceMax: settings.historyReadCoalesceMax, metrics, log, delivery: { deliverEncoded: (message) => this.fabric.deliver(message) } });
    serveWorkerHistory(this.fabric, history, log);
    if (settings.webhooks) {
      this.webhooks = nodeWebhooksFor(medium, resolveWebhooks(settings.webhooks), metrics, log);
      serveWorkerWebhooks(this.fabric, this.webhooks);
    }
    // The node's own figures (the main thread holds no sockets): its topics, its Redis connections, its metrics.
    this.fabric.serve(STATS_LANE, async (): Promise<StatsAnswer> => ({ kind: "node", topics: this.fabric.topicCount, redis: redis?.redisStatus(), metrics: await metrics.registry.getMetricsAsJSON() }));
  }

  async start(): Promise<void> {
    await Promise.all(this.slots.map((_, index) => this.spawn(index)));
    this.fabric.start();
  }

  /** Every worker stops accepting, closes its sockets with 1001 and ends; then the main thread closes. */
  async drain(): Promise<void> {
    this.draining = true;
    const exits = this.slots.filter((slot): slot is Slot => slot !== undefined).map((slot) => {
      slot.worker.postMessage({ k: "drain" } satisfies ControlMessage);
      return slot.ended;
    });
    await settleWithin(Promise.all(exits), this.options.settings.drainPeriod + DRAIN_GRACE_MS);
    await this.webhooks?.close();
    // Pending counter increments go out before the Redis connections close.
    await this.counters.close();
    await this.fabric.close();
  }

  private spawn(index: number): Promise<void> {
    const { settings, app, log } = this.options;
    const incarnation = makeIncarnation(Date.now(), Math.random());
    const { port1: mainThreadEnd, port2: workerEnd } = new MessageChannel();
    const boot: WorkerBoot = {
      index,
      incarnation,
      nodeIncarnation: this.nodeIncarnation,
      nodeSecret: this.nodeSecret,
      // Each worker enforces an equal share of the node's buffer cap (the kernel spreads sockets
      // evenly over them), so the cap needs no counter shared between threads.
      settings: { ...settings, workers: 1, maxNodeBufferedBytes: Math.max(1024, Math.floor(settings.maxNodeBufferedBytes / this.options.count)) },
      app,
      mainThreadPort: workerEnd,
    };
    const worker = new Worker(ENTRY, { workerData: boot, transferList: [workerEnd] });
    const exited = new Promise<number>((resolve) => worker.once("exit", resolve));
    const slot: Slot = {
      worker,
      replica: makeReplicaId(workerReplicaName(settings.nodeName, index), incarnation),
      exited,
      ended: exited.then(() => this.exited(index, slot)).catch((err: unknown) => log.error({ worker: index, err }, "a worker's end was not handled")),
    };
    this.fabric.addWorker(index, mainThreadEnd);
    this.link(index, worker);
    this.slots[index] = slot;
    return new Promise((resolve, reject) => {
      worker.on("message", (report: WorkerReport) => {
        if (report.k === "listening") resolve();
        else if (report.k === "failed" && report.listen) reject(new ListenError(report.error, report.listen.code));
        else if (report.k === "failed") reject(new Error(`worker ${index} failed to start: ${report.error}`));
        else if (report.k === "crashed") log.error({ worker: index, error: report.error }, "worker crashed");
      });
      worker.on("error", (err) => log.error({ worker: index, err }, "worker error"));
      void slot.exited.then((code) => reject(new Error(`worker ${index} exited with code ${code} before listening`)));
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

  private async exited(index: number, slot: Slot): Promise<void> {
    if (this.slots[index] !== slot) return;
    this.slots[index] = undefined;
    for (const peer of this.slots) peer?.worker.postMessage({ k: "peerDown", index } satisfies ControlMessage);
    if (this.draining) {
      await this.fabric.workerEnded(index);
      return;
    }
    // Its sockets are gone: every other replica drops its presences now rather than after downPeriod.
    this.webhooks?.workerGone(index);
    await this.fabric.workerCrashed(index, slot.replica);
    if (this.draining) return;
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
