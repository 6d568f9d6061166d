/**
 * One topic, many subscribers across several processes (by default 100,000): Cinder nodes
 * sharing one port and linked through a local redis-server, against raw uWebSockets.js
 * processes sharing one port and fanning out through a redis-server the same way, in one run.
 *   npm run bench -- one-topic --sockets 100000 --runs 3
 * Flags: --sockets N (default 100,000); --nodes N (server processes per side, default one per
 * 15,000 sockets: a process may hold 20,000 open files); --inflight 1,8 (one round each);
 * --broadcasts N (per round, default 20: a round ends when every subscriber has them all);
 * --timeout s (bound of a round, default 120); --body-size B; --runs N (medians); --targets
 * cinder,raw-uws; --no-pin (else redis-server and the servers on core 0, the client on core 1);
 * --connect-timeout s (bound of connecting, and of joining, default 120 + 1 s per 5,000 sockets);
 * --drain s (how long a round waits without any delivery before what is left counts as missing,
 * default 10); --client-processes N (the load client's worker processes, default one per 19,000
 * sockets); --min-available-gib G (the memory guard's floor, default 2).
 * Each run stops by itself: the client bounds connect, join and every round, and every process
 * it started is stopped when a run ends or fails, or when the bench is interrupted. A memory
 * guard aborts a run (stopping its processes, and saying so) once MemAvailable falls below the
 * floor; the next run starts only once memory is back above it.
 */
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";

import { startLocalCluster } from "../lib/cluster-processes.js";
import { parseFlags } from "../lib/flags.js";
import { type KernelMemoryPeaks, type KernelMemorySample, meminfoBytes, sampleKernelMemory, watchKernelMemory } from "../lib/kernel-memory.js";
import { NO_TCP_COUNTERS, type TcpMemoryLimits, inputBacklogLimit, tcpCountersBetween, tcpMemoryLimits } from "../lib/tcp-counters.js";
import type { LoadReport } from "../lib/load-report.js";
import { CLIENT_CORE, SERVER_CORE } from "../lib/measure.js";
import { startMemoryGuard } from "../lib/memory-guard.js";
import { runNativeClient } from "../lib/native-client.js";
import { OneTopicProbe, type Snapshot } from "../lib/one-topic-probe.js";
import { printOneTopicTable, type RunResult, type TargetName } from "../lib/one-topic-report.js";
import { startRawUwsGroup } from "../lib/raw-uws-group.js";
import { BENCH_JOIN_PAYLOAD } from "../lib/targets.js";

const TARGETS: readonly TargetName[] = ["cinder", "raw-uws"];
export type { RunResult, TargetName };

/** Sockets per server process by default: under the 20,000 open files, with room for the kernel's uneven spread. */
const SOCKETS_PER_NODE = 15_000;
/** The most one server process may be given on average: 20,000 open files, less the spread and its own. */
const MAX_SOCKETS_PER_NODE = 19_500;
const GIB = 2 ** 30;

interface Servers {
  port: number;
  /** the server processes (not redis-server), for RSS and CPU */
  pids: number[];
  redis: Redis;
  redisPid: number;
  stop(): Promise<void>;
}

/** Every server group alive, and the run in progress, so an interrupted bench still stops them. */
const running = new Set<Servers>();
let current: AbortController | undefined;

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const sockets = f.number("sockets", 100_000);
  const nodes = f.number("nodes", Math.max(1, Math.ceil(sockets / SOCKETS_PER_NODE)));
  if (sockets / nodes > MAX_SOCKETS_PER_NODE) throw new Error(`${sockets} sockets on ${nodes} processes is over ${MAX_SOCKETS_PER_NODE} each (20,000 open files per process)`);
  const runs = f.number("runs", 1);
  const targets = f.strings("targets", [...TARGETS]).map(checkTarget);
  const pin = !f.has("no-pin");
  const floorBytes = f.number("min-available-gib", 2) * GIB;
  const onSignal = (): void => {
    current?.abort(new Error("interrupted"));
    void Promise.all([...running].map((s) => s.stop())).finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const results: RunResult[] = [];
  const tcpBefore = sampleKernelMemory().tcpInUse;
  try {
    for (let i = 0; i < runs; i++) {
      for (const target of targets) {
        if (!(await memoryBackAbove(floorBytes + GIB))) {
          console.log(`stopping: MemAvailable stayed under ${((floorBytes + GIB) / GIB).toFixed(1)} GiB for a minute after the last run`);
          break;
        }
        // The kernel frees a run's sockets (and their Slab) a while after its processes exit.
        await socketsBackTo(tcpBefore + 2000);
        const result = await measureOneTopic(target, {
          sockets,
          nodes,
          pin,
          inflight: f.numbers("inflight", [1, 8]),
          broadcasts: f.number("broadcasts", 20),
          timeoutSeconds: f.number("timeout", 120),
          bodySize: f.number("body-size", 100),
          connectTimeoutSeconds: f.number("connect-timeout", 120 + Math.ceil(sockets / 5000)),
          drainSeconds: f.number("drain", 10),
          clientProcesses: f.has("client-processes") ? f.number("client-processes", 1) : undefined,
          minAvailableBytes: floorBytes,
        });
        results.push(result);
        console.log(`run ${i + 1}/${runs} ${describeRun(result)}`);
      }
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  printOneTopicTable(results, targets);
  console.log(
    `\n${sockets.toLocaleString("en")} subscribers of one topic on ${nodes} server processes per side, sharing one port, ` +
      `fanning out through one local redis-server; medians of ${runs} run(s). ` +
      (pin ? `Pinning (taskset -c): redis-server and the servers on core ${SERVER_CORE}, the load client's processes on core ${CLIENT_CORE}.` : "Not pinned."),
  );
  if (f.has("json")) console.log(JSON.stringify(results));
}

function checkTarget(name: string): TargetName {
  if (!(TARGETS as readonly string[]).includes(name)) throw new Error(`unknown target ${name}; known: ${TARGETS.join(", ")}`);
  return name as TargetName;
}

/** The previous run's sockets and processes take a while to give their memory back. */
async function memoryBackAbove(bytes: number, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (meminfoBytes("MemAvailable") < bytes) {
    if (Date.now() > deadline) return false;
    await sleep(500);
  }
  return true;
}

async function socketsBackTo(tcpInUse: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (sampleKernelMemory().tcpInUse > tcpInUse && Date.now() < deadline) await sleep(500);
}

async function startServers(target: TargetName, nodes: number, pin: boolean): Promise<Servers> {
  const redisCore = pin ? SERVER_CORE : undefined;
  const cpus = pin ? String(SERVER_CORE) : undefined;
  if (target === "raw-uws") return startRawUwsGroup(nodes, redisCore, cpus);
  const cluster = await startLocalCluster(nodes, redisCore, true, { cpus });
  return { port: cluster.port, pids: cluster.nodePids, redis: cluster.redis, redisPid: cluster.pids[0], stop: () => cluster.stop() };
}

export interface OneTopicShape {
  sockets: number;
  /** server processes */
  nodes: number;
  pin: boolean;
  inflight: number[];
  /** broadcasts per round: a round ends once every subscriber has all of them… */
  broadcasts: number;
  /** …or after this long (what is left counts as missing) */
  timeoutSeconds: number;
  bodySize: number;
  /** bound of connecting, and of joining (default: the client's, 120 s) */
  connectTimeoutSeconds?: number;
  /** a round's wait for outstanding broadcasts while none arrives (default: the client's, 2 s) */
  drainSeconds?: number;
  /** the load client's worker processes (default: one per 19,000 sockets) */
  clientProcesses?: number;
  /** the memory guard's floor: below this MemAvailable the run is aborted (default 2 GiB) */
  minAvailableBytes?: number;
}

/**
 * One run against one target: start its processes, load them, stop them (also on failure).
 * A run the memory guard stopped comes back with `aborted` (its reason and where it got to).
 */
export async function measureOneTopic(target: TargetName, shape: OneTopicShape): Promise<RunResult> {
  const { sockets, pin } = shape;
  const before: Before = { loadAverage: loadavg()[0], kernel: sampleKernelMemory(), tcpMem: tcpMemoryLimits(), inputBacklog: inputBacklogLimit() };
  const guard = startMemoryGuard(shape.minAvailableBytes ?? 2 * GIB);
  const kernel = watchKernelMemory();
  const controller = new AbortController();
  current = controller;
  const onLow = (): void => controller.abort(guard.signal.reason);
  guard.signal.addEventListener("abort", onLow, { once: true });
  if (guard.signal.aborted) onLow();
  let servers: Servers | undefined;
  let probe: OneTopicProbe | undefined;
  try {
    controller.signal.throwIfAborted();
    servers = await startServers(target, shape.nodes, pin);
    running.add(servers);
    controller.signal.throwIfAborted();
    probe = new OneTopicProbe(servers);
    const p = probe;
    const report = await runNativeClient(
      {
        port: servers.port,
        path: "/socket/websocket?vsn=2.0.0&user=bench",
        protocol: "phoenix",
        joinPayload: BENCH_JOIN_PAYLOAD,
        sockets,
        topics: 1,
        inflight: shape.inflight,
        messages: shape.broadcasts,
        durationSeconds: shape.timeoutSeconds,
        bodySize: shape.bodySize,
        settleSeconds: 1,
        drainSeconds: shape.drainSeconds,
        connectTimeoutSeconds: shape.connectTimeoutSeconds,
        processes: shape.clientProcesses,
        core: pin ? CLIENT_CORE : undefined,
        signal: controller.signal,
        onSpawn: (pid) => p.setClient(pid),
      },
      (phase, k) => p.onPhase(phase, k),
    );
    return { ...summarize(target, shape, report, probe, before, await probe.redisBetween()), kernel_peaks: kernel.peaks() };
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    // Where it got to, sampled now that the client is gone but the servers still hold their sockets.
    const at = probe?.snapshot();
    return {
      ...emptyResult(target, shape, before),
      kernel_peaks: kernel.peaks(),
      aborted: `${(err as Error).message}, after phase "${probe?.lastPhase ?? "starting servers"}"` +
        (at ? `, with ${at.serverFiles.toLocaleString("en")} files open on the servers, server RSS ${(at.serverRssBytes / GIB).toFixed(2)} GiB, Slab ${(at.kernel.slabBytes / GIB).toFixed(2)} GiB` : ""),
    };
  } finally {
    guard.stop();
    kernel.stop();
    current = undefined;
    if (servers) {
      running.delete(servers);
      await servers.stop();
    }
  }
}

interface Before {
  loadAverage: number;
  kernel: KernelMemorySample;
  tcpMem: TcpMemoryLimits;
  inputBacklog: number;
}

function emptyResult(target: TargetName, shape: OneTopicShape, before: Before): RunResult {
  return {
    target,
    sockets: shape.sockets,
    nodes: shape.nodes,
    client_processes: 0,
    sources: 0,
    load_average_before: before.loadAverage,
    connected: 0,
    subscriptions: 0,
    failures: 0,
    connect_s: 0,
    join_s: 0,
    connect_cpu_share: 0,
    join_cpu_share: 0,
    rss_per_connection: 0,
    max_files_per_node: 0,
    min_files_per_node: 0,
    rss_joined: { servers: 0, clients: 0, redis: 0 },
    kernel_peaks: { slabBytes: 0, tcpBufferBytes: 0, memAvailableBytes: 0 },
    kernel_joined: { slab: 0, slab_growth: 0, tcp_buffers: 0, tcp_in_use: 0 },
    redis_per_broadcast: { publish: 0, pubsub_connections: 0, output_bytes: 0, cpu_ms: 0 },
    rounds: [],
    tcp: NO_TCP_COUNTERS,
    tcp_joining: NO_TCP_COUNTERS,
    tcp_mem: before.tcpMem,
    input_backlog: before.inputBacklog,
  };
}

function summarize(
  target: TargetName,
  shape: OneTopicShape,
  report: LoadReport,
  probe: OneTopicProbe,
  before: Before,
  redis: Awaited<ReturnType<OneTopicProbe["redisBetween"]>>,
): RunResult {
  const connected = report.connect.connected;
  const at = (phase: string): Snapshot | undefined => probe.snapshots.get(phase);
  const joined = at("joined");
  const connecting = at("connecting");
  const broadcasts = report.rounds.reduce((n, r) => n + r.broadcasts, 0);
  const redisCpu = (at("done")?.redisCpuSeconds ?? 0) - (joined?.redisCpuSeconds ?? 0);
  return {
    ...emptyResult(target, shape, before),
    client_processes: report.processes,
    sources: report.sources,
    connected,
    subscriptions: report.join.subscriptions,
    failures: report.connect.failed + report.join.errors + report.closed_by_server + report.protocol_errors,
    connect_s: report.connect.seconds,
    join_s: report.join.seconds,
    connect_cpu_share: cpuShare(connecting, at("connected"), report.connect.seconds),
    join_cpu_share: cpuShare(at("connected"), joined, report.join.seconds),
    rss_per_connection: connected > 0 ? ((joined?.serverRssBytes ?? 0) - (connecting?.serverRssBytes ?? 0)) / connected : 0,
    max_files_per_node: (joined?.maxServerFiles ?? 0),
    min_files_per_node: (joined?.minServerFiles ?? 0),
    rss_joined: { servers: joined?.serverRssBytes ?? 0, clients: joined?.clientRssBytes ?? 0, redis: joined?.redisRssBytes ?? 0 },
    kernel_joined: {
      slab: joined?.kernel.slabBytes ?? 0,
      slab_growth: (joined?.kernel.slabBytes ?? 0) - (connecting?.kernel.slabBytes ?? before.kernel.slabBytes),
      tcp_buffers: joined?.kernel.tcpBufferBytes ?? 0,
      tcp_in_use: joined?.kernel.tcpInUse ?? 0,
    },
    redis_per_broadcast:
      redis && broadcasts > 0
        ? {
            publish: (redis.done.publishCalls - redis.joined.publishCalls) / broadcasts,
            pubsub_connections: redis.done.pubsubClients,
            output_bytes: (redis.done.netOutputBytes - redis.joined.netOutputBytes) / broadcasts,
            cpu_ms: (redisCpu * 1000) / broadcasts,
          }
        : { publish: 0, pubsub_connections: 0, output_bytes: 0, cpu_ms: 0 },
    rounds: report.rounds.map((r) => {
      const cpu = (at(`measured ${r.inflight}`)?.serverCpuSeconds ?? 0) - (at(`measure ${r.inflight}`)?.serverCpuSeconds ?? 0);
      return {
        inflight: r.inflight,
        deliveries: r.deliveries,
        incomplete_broadcasts: r.incomplete_broadcasts,
        deliveries_per_s: r.deliveries_per_s,
        p50_ms: r.latency_us.p50 / 1000,
        p99_ms: r.latency_us.p99 / 1000,
        window_s: r.window_s,
        broadcasts: r.broadcasts,
        missing: r.missing,
        client_cpu_share: r.window_s > 0 ? r.client_cpu_s / r.window_s : 0,
        server_cpu_share: r.window_s > 0 ? cpu / r.window_s : 0,
        server_cpu_us_per_delivery: r.deliveries > 0 ? (cpu * 1e6) / r.deliveries : 0,
        tcp: tcpCountersBetween(at(`measure ${r.inflight}`)?.tcp, at(`measured ${r.inflight}`)?.tcp),
      };
    }),
    tcp: tcpCountersBetween(connecting?.tcp, at("done")?.tcp),
    tcp_joining: tcpCountersBetween(connecting?.tcp, joined?.tcp),
  };
}

/** The server processes' CPU time between two snapshots, in cores over `seconds`. */
function cpuShare(from: Snapshot | undefined, to: Snapshot | undefined, seconds: number): number {
  return from && to && seconds > 0 ? (to.serverCpuSeconds - from.serverCpuSeconds) / seconds : 0;
}

function describeRun(r: RunResult): string {
  if (r.aborted) return `${r.target}: ABORTED: ${r.aborted} (load average before: ${r.load_average_before.toFixed(2)})`;
  const rounds = r.rounds
    .map(
      (x) =>
        `${x.inflight} in flight: ${(x.deliveries_per_s / 1000).toFixed(0)}k/s, p50 ${x.p50_ms.toFixed(0)} ms, p99 ${x.p99_ms.toFixed(0)} ms, ${x.broadcasts} broadcasts, missing ${x.missing}, ` +
        `server CPU ${(x.server_cpu_share * 100).toFixed(0)}% (${x.server_cpu_us_per_delivery.toFixed(2)} µs/delivery), client CPU ${(x.client_cpu_share * 100).toFixed(0)}%, ` +
        `all complete in ${x.window_s.toFixed(1)} s, ${x.tcp.backlogDrops} packets dropped by input backlogs, TCP: ${x.tcp.retransmits} segments sent again, ${x.tcp.timeouts} retransmission timeouts, ${(x.tcp.memoryPressureMs / 1000).toFixed(1)} s under memory pressure`,
    )
    .join("; ");
  const mib = (b: number): string => (b / 2 ** 20).toFixed(0);
  return (
    `${r.target}: ${r.subscriptions.toLocaleString("en")} subscribed, ${r.failures} failures, connect ${r.connect_s.toFixed(1)} s + join ${r.join_s.toFixed(1)} s (server CPU ${(r.connect_cpu_share * 100).toFixed(0)} % / ${(r.join_cpu_share * 100).toFixed(0)} %), ` +
    `load average before ${r.load_average_before.toFixed(2)}; ${(r.rss_per_connection / 1024).toFixed(2)} KiB server RSS per connection, ` +
    `open files per server process ${r.min_files_per_node}–${r.max_files_per_node}; RSS at joined: servers ${mib(r.rss_joined.servers)} MiB, clients ${mib(r.rss_joined.clients)} MiB, redis ${mib(r.rss_joined.redis)} MiB; ` +
    `Slab ${mib(r.kernel_joined.slab)} MiB (+${mib(r.kernel_joined.slab_growth)}), TCP buffers ${mib(r.kernel_joined.tcp_buffers)} MiB, ${r.kernel_joined.tcp_in_use} TCP sockets; ` +
    `peaks over the run: Slab ${mib(r.kernel_peaks.slabBytes)} MiB, TCP buffers ${mib(r.kernel_peaks.tcpBufferBytes)} MiB, lowest MemAvailable ${mib(r.kernel_peaks.memAvailableBytes)} MiB; ` +
    `while connecting and joining: ${r.tcp_joining.listenOverflows} listen queue overflows, ${r.tcp_joining.synRetransmits} connection requests sent again; ` +
    `over the run: ${r.tcp.backlogDrops} packets dropped by input backlogs (netdev_max_backlog ${r.input_backlog}), ${r.tcp.retransmits} TCP segments sent again, ${r.tcp.receiveQueueDrops} dropped for a full receive queue, ${(r.tcp.memoryPressureMs / 1000).toFixed(1)} s under memory pressure (tcp_mem pressure ${mib(r.tcp_mem.pressure)} MiB, max ${mib(r.tcp_mem.max)} MiB); ` +
    `Redis per broadcast: ${r.redis_per_broadcast.publish.toFixed(2)} PUBLISH to ${r.redis_per_broadcast.pubsub_connections} subscribed connections, ${r.redis_per_broadcast.output_bytes.toFixed(0)} bytes out, ${r.redis_per_broadcast.cpu_ms.toFixed(2)} ms CPU; ${rounds}`
  );
}
