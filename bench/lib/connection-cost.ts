/**
 * What one idle WebSocket with one joined channel costs a server: N sockets connect and each
 * joins one topic (all the same topic, presence off), and the server is sampled after a full
 * garbage collection when idle, once every socket is upgraded, and once every socket joined.
 * The server runs with the memory probe inside it (memory-probe.ts); a run with `snapshots`
 * also writes a heap snapshot at each stage and counts its objects by kind (heap-census.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { censusDelta, censusOf, type CensusEntry, type HeapCensus } from "./heap-census.js";
import { CLIENT_CORE, SERVER_CORE } from "./measure.js";
import { type MemorySample, requestSample } from "./memory-sample.js";
import { runNativeClient } from "./native-client.js";
import { repoRoot } from "./repo-root.js";
import { startServer } from "./server-process.js";
import { BENCH_JOIN_PAYLOAD, type Target } from "./targets.js";

export const STAGES = ["idle", "connected", "joined"] as const;
export type Stage = (typeof STAGES)[number];

/** Bytes per connection, each the difference between two stages divided by the sockets. */
export interface PerConnection {
  /** RSS as sampled, without a forced collection (what earlier figures measured). */
  rssAsFound: number;
  rss: number;
  heapUsed: number;
  heapPhysical: number;
  /** V8's own malloc, outside its heap pages. */
  v8Malloced: number;
  external: number;
  arrayBuffers: number;
  /** RSS outside the V8 heap's pages: uWS's own memory, malloc, ArrayBuffers. */
  native: number;
}

export interface ConnectionCostRun {
  target: string;
  sockets: number;
  /** Sockets connected and sockets joined (either below `sockets` makes the run suspect). */
  connected: number;
  joined: number;
  failures: number;
  samples: Record<Stage, MemorySample>;
  /** idle → joined: the whole cost of a socket with its channel. */
  total: PerConnection;
  /** idle → connected: the upgrade alone. */
  upgrade: PerConnection;
  /** connected → joined: the join. */
  join: PerConnection;
  /**
   * idle → joined, sampled again once V8 gave back the young generation it grew during the
   * storms (memory-sample.ts, YoungSettle), or the wait ran out (`settled` false); with `settle`.
   */
  settled?: PerConnection & { waitedMs: number; settled: boolean };
  /** With snapshots: heap objects per connection by kind, for the upgrade and for the join. */
  census?: { upgrade: Record<string, CensusEntry>; join: Record<string, CensusEntry> };
}

export interface ConnectionCostOptions {
  sockets: number;
  /** Server and client on different cores (taskset). */
  pin: boolean;
  /** Heap snapshots at each stage, for the census; they disturb RSS, so such runs are apart. */
  snapshots: boolean;
  /**
   * Wait up to this long for V8 to give back the young generation before the idle sample (what
   * startup grew), and after "joined", where the server is sampled a second time (0: neither).
   */
  settleMs: number;
}

/** Young-generation pages of an idle server that has given back what startup grew (it starts with 0.5 MiB). */
const IDLE_YOUNG = 2 * 1024 * 1024;
/** Young-generation pages that count as given back after the storms: what the idle server had, and 1 MiB more. */
const SETTLED_MARGIN = 1024 * 1024;

function probeArgs(): string[] {
  return ["--expose-gc", "--import", pathToFileURL(join(repoRoot(), "dist", "bench", "lib", "memory-probe.js")).href];
}

function perConnection(from: MemorySample, to: MemorySample, sockets: number): PerConnection {
  const per = (key: keyof MemorySample): number => ((to[key] as number) - (from[key] as number)) / sockets;
  return {
    rssAsFound: per("rssBeforeGc"),
    rss: per("rss"),
    heapUsed: per("heapUsed"),
    heapPhysical: per("heapPhysical"),
    v8Malloced: per("v8Malloced"),
    external: per("external"),
    arrayBuffers: per("arrayBuffers"),
    native: per("rss") - per("heapPhysical"),
  };
}

export async function measureConnectionCost(target: Target, options: ConnectionCostOptions): Promise<ConnectionCostRun> {
  const server = await startServer(target, options.pin ? (target.serverCpus ?? SERVER_CORE) : undefined, 20_000, { nodeArgs: probeArgs(), ipc: true });
  const dir = options.snapshots ? mkdtempSync(join(tmpdir(), "connection-cost-")) : undefined;
  const samples: Partial<Record<Stage, MemorySample>> = {};
  let settledSample: MemorySample | undefined;
  const take = async (stage: Stage): Promise<void> => {
    samples[stage] = await requestSample(server.child, dir && join(dir, `${stage}.heapsnapshot`));
  };
  try {
    await new Promise((r) => setTimeout(r, 300)); // startup allocation settles before the idle sample
    if (options.settleMs > 0) samples.idle = await requestSample(server.child, undefined, { youngAtMost: IDLE_YOUNG, timeoutMs: options.settleMs });
    else await take("idle");
    const report = await runNativeClient(
      {
        joinPayload: BENCH_JOIN_PAYLOAD,
        sockets: options.sockets,
        topics: 1,
        inflight: [],
        step: true,
        port: server.port,
        path: target.path,
        protocol: target.protocol,
        core: options.pin ? CLIENT_CORE : undefined,
      },
      async (phase) => {
        if (phase !== "connected" && phase !== "joined") return;
        await take(phase);
        const youngAtIdle = samples.idle?.spaces.new_space?.physical;
        if (phase === "joined" && options.settleMs > 0 && youngAtIdle !== undefined) {
          settledSample = await requestSample(server.child, undefined, { youngAtMost: youngAtIdle + SETTLED_MARGIN, timeoutMs: options.settleMs });
        }
      },
    );
    const { idle, connected, joined } = samples;
    if (!idle || !connected || !joined) throw new Error("a stage was not sampled");
    const sockets = report.connect.connected;
    const run: ConnectionCostRun = {
      target: target.name,
      sockets: options.sockets,
      connected: sockets,
      joined: report.join.joined_sockets,
      failures: report.connect.failed + report.join.errors + report.closed_by_server + report.protocol_errors,
      samples: { idle, connected, joined },
      total: perConnection(idle, joined, sockets),
      upgrade: perConnection(idle, connected, sockets),
      join: perConnection(connected, joined, sockets),
    };
    if (settledSample) {
      run.settled = { ...perConnection(idle, settledSample, sockets), waitedMs: settledSample.settledAfterMs ?? 0, settled: settledSample.settled ?? false };
    }
    if (dir) run.census = censusOfStages(dir, sockets);
    return run;
  } catch (err) {
    throw new Error(`${target.name}: ${(err as Error).message}\nserver output:\n${server.output()}`);
  } finally {
    await server.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

function censusOfStages(dir: string, sockets: number): NonNullable<ConnectionCostRun["census"]> {
  const census = (stage: Stage): HeapCensus => censusOf(join(dir, `${stage}.heapsnapshot`));
  const idle = census("idle");
  const connected = census("connected");
  const joined = census("joined");
  return {
    upgrade: Object.fromEntries(censusDelta(idle, connected, sockets)),
    join: Object.fromEntries(censusDelta(connected, joined, sockets)),
  };
}
