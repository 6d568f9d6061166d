/**
 * One chaos run: Redis and the nodes, the clients joined and pushing, the faults one after the
 * other as the pacing says, then the traffic stopped, a last fence, and the accounting. Every
 * process is stopped at the end, whatever happened.
 */
import { availableParallelism, loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";

import { account, totalOf, type WindowCounts } from "./accounting.js";
import { ChaosCluster } from "./chaos-cluster.js";
import type { NodeSpec } from "./cinder-node.js";
import { ClientFleet } from "./client-fleet.js";
import { applyFault, type FaultContext, type FaultName, type FaultRecord, type Pacing } from "./faults.js";
import { Ledger, type LogLine } from "./ledger.js";
import { lossExamples } from "./loss-examples.js";
import { StreamWatcher } from "./stream-watcher.js";

export interface ChaosOptions {
  nodes: readonly NodeSpec[];
  clients: number;
  rooms: number;
  /** Pushes a second, all clients together. */
  rate: number;
  faults: readonly FaultName[];
  /** Which node each node fault hits (index into nodes). */
  targets: FaultContext["targets"];
  /** See accounting.ts: how long a client must stay joined past an ok to be expected to have it live. */
  settleMs: number;
  /** More environment for every node. */
  nodeEnv?: Record<string, string>;
  /** Examples of each loss kind per window in the result (default 3). */
  examples?: number;
  /** Progress lines. */
  progress?: (line: string) => void;
}

export interface FaultOutcome extends FaultRecord {
  ghostSeconds?: number | null;
}

export interface ChaosResult {
  readonly windows: WindowCounts[];
  readonly total: WindowCounts;
  /** A few losses of each kind per window, in words. */
  readonly examples: string[];
  readonly faults: FaultOutcome[];
  /** Whether the last fence reached every client (false: some never got it, see the losses). */
  readonly fenced: boolean;
  readonly logDir: string;
  /** The first error lines of the nodes, for the report. */
  readonly errorSamples: LogLine[];
  /** Deliveries outside any joined segment, and reads of Redis's streams that failed (outages). */
  readonly strays: number;
  readonly failedStreamReads: number;
  /** How loaded the machine was: this process's event-loop delay (it plays every client) and the 1-minute load average at the start and the end of the traffic. */
  readonly load: { loopDelayP99Ms: number; loopDelayMaxMs: number; loadAverage: [number, number]; cores: number };
}

export async function runChaos(options: ChaosOptions, pacing: Pacing): Promise<ChaosResult> {
  const progress = options.progress ?? (() => {});
  const ledger = new Ledger();
  const cluster = await ChaosCluster.start(options.nodes, ledger, options.nodeEnv);
  progress(`redis and ${options.nodes.length} nodes up (logs in ${cluster.logDir})`);
  const fleet = new ClientFleet({ clients: options.clients, rooms: options.rooms, ports: cluster.ports }, ledger);
  const watcher = new StreamWatcher(cluster.redis.port, fleet.rooms.map((name) => `room:${name}`), ledger);
  try {
    watcher.start();
    await fleet.connect();
    progress(`${options.clients} clients joined ${options.rooms} rooms and their stats topics`);
    fleet.startTraffic(options.rate);
    const trafficStart = Date.now();
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const loadAtStart = loadavg()[0];
    const faults: FaultOutcome[] = [];
    const context: FaultContext = { cluster, fleet, watcher, pacing, targets: options.targets, faults };
    for (const [index, name] of options.faults.entries()) {
      await pacing.beforeFault(context, index, trafficStart);
      const record = await applyFault(name, context);
      progress(`${record.label}: ${record.steps.join(", ")}`);
    }
    await pacing.afterFaults(context, options.faults.length, trafficStart);
    fleet.stopTraffic();
    loopDelay.disable();
    const load = {
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: loopDelay.max / 1e6,
      loadAverage: [loadAtStart, loadavg()[0]] as [number, number],
      cores: availableParallelism(),
    };
    await fleet.repliesIn();
    const fenced = await fleet.fence();
    progress(fenced ? "traffic stopped; the last fence reached every client" : "traffic stopped; the last fence did NOT reach every client");
    for (const fault of faults) fault.ghostSeconds = await fault.ghosts;
    await watcher.stop();
    const { windows, findings } = account({
      ledger,
      clients: fleet.clients,
      streams: watcher,
      windows: [{ label: "before faults", start: trafficStart }, ...faults.map((f) => ({ label: f.label, start: f.at }))],
      settleMs: options.settleMs,
      endAt: Date.now(),
    });
    const nodeNames = options.nodes.map((node) => node.name);
    return {
      windows,
      total: totalOf(windows),
      examples: lossExamples(findings, windows, { ledger, clients: fleet.clients, streams: watcher, nodeNames }, options.examples ?? 3),
      faults,
      fenced,
      logDir: cluster.logDir,
      errorSamples: ledger.lines.filter((line) => line.level === "error").slice(0, 5),
      strays: fleet.clients.reduce((sum, c) => sum + c.strays, 0),
      failedStreamReads: watcher.failedReads,
      load,
    };
  } finally {
    fleet.disconnect();
    await watcher.stop();
    await cluster.stop();
  }
}
