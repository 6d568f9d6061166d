/** The one-topic scenario's results: one row per run and target, and the table of medians. */
import type { KernelMemoryPeaks } from "./kernel-memory.js";
import { median } from "./stats.js";
import type { TcpCounters, TcpMemoryLimits } from "./tcp-counters.js";

export type TargetName = "cinder" | "raw-uws";

export interface RoundRow {
  inflight: number;
  deliveries: number;
  incomplete_broadcasts: number;
  deliveries_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** from the round's first publish until every subscriber had every broadcast (or the bound) */
  window_s: number;
  broadcasts: number;
  missing: number;
  client_cpu_share: number;
  /** the server processes' CPU time over the window, in cores (not redis-server) */
  server_cpu_share: number;
  server_cpu_us_per_delivery: number;
  /** machine-wide, over the window (tcp-counters.ts) */
  tcp: TcpCounters;
}

export interface RunResult {
  target: TargetName;
  sockets: number;
  nodes: number;
  client_processes: number;
  sources: number;
  /** 1-minute load average just before the run's processes started: how busy the machine was */
  load_average_before: number;
  connected: number;
  subscriptions: number;
  failures: number;
  connect_s: number;
  join_s: number;
  /** the server processes' CPU time over the connect phase and over the join phase, in cores */
  connect_cpu_share: number;
  join_cpu_share: number;
  /** server RSS growth from before connecting to joined, per connection */
  rss_per_connection: number;
  /** open files of the fullest and emptiest server process once joined (its sockets, plus a few dozen of its own) */
  max_files_per_node: number;
  min_files_per_node: number;
  /** bytes, once everyone joined */
  rss_joined: { servers: number; clients: number; redis: number };
  /** bytes, machine-wide, once everyone joined; slab_growth from the client's start (servers up) to joined */
  kernel_joined: { slab: number; slab_growth: number; tcp_buffers: number; tcp_in_use: number };
  /** machine-wide over the whole run, sampled every 500 ms (MemAvailable: the lowest) */
  kernel_peaks: KernelMemoryPeaks;
  /** over all rounds: PUBLISH calls, subscribed connections (each gets every message), bytes Redis sent, Redis CPU */
  redis_per_broadcast: { publish: number; pubsub_connections: number; output_bytes: number; cpu_ms: number };
  rounds: RoundRow[];
  /** machine-wide, from the client's start to its end (tcp-counters.ts) */
  tcp: TcpCounters;
  /** machine-wide, from the client's start until everyone joined: the connection storm's */
  tcp_joining: TcpCounters;
  /** net.ipv4.tcp_mem when the run started */
  tcp_mem: TcpMemoryLimits;
  /** net.core.netdev_max_backlog when the run started */
  input_backlog: number;
  /** why the run was stopped before it ended (the memory guard), and where it had got to */
  aborted?: string;
}

interface Metric {
  label: string;
  value: (r: RunResult) => number | undefined;
  format: (v: number) => string;
}

const mib = (v: number): string => `${(v / 2 ** 20).toFixed(0)} MiB`;
const kib = (v: number): string => `${(v / 1024).toFixed(2)} KiB`;

function metrics(inflights: number[]): Metric[] {
  const roundOf = (r: RunResult, k: number): RoundRow | undefined => r.rounds.find((x) => x.inflight === k);
  const perConnection = (bytes: (r: RunResult) => number) => (r: RunResult) => (r.connected > 0 ? bytes(r) / r.connected : undefined);
  const list: Metric[] = [
    // Only runs in which everyone joined: the client's bounds end the others' phases.
    { label: "connect + join everyone", value: (r) => (r.subscriptions === r.sockets ? r.connect_s + r.join_s : undefined), format: (v) => `${v.toFixed(1)} s` },
    { label: "server CPU while connecting", value: (r) => r.connect_cpu_share, format: (v) => `${(v * 100).toFixed(0)} %` },
    { label: "server CPU while joining", value: (r) => r.join_cpu_share, format: (v) => `${(v * 100).toFixed(0)} %` },
    // A server process that accepts too slowly overflows its listen queue; the client's TCP then
    // asks again after 1 s, 3 s, 7 s: what stretches connecting beyond the CPU it costs.
    { label: "listen queue overflows, connecting and joining", value: (r) => r.tcp_joining.listenOverflows, format: (v) => v.toFixed(0) },
    { label: "connection requests (SYN) sent again, connecting and joining", value: (r) => r.tcp_joining.synRetransmits, format: (v) => v.toFixed(0) },
  ];
  for (const k of inflights) {
    list.push(
      { label: `broadcast complete p50, ${k} in flight`, value: (r) => roundOf(r, k)?.p50_ms, format: (v) => `${v.toFixed(0)} ms` },
      { label: `broadcast complete p99, ${k} in flight`, value: (r) => roundOf(r, k)?.p99_ms, format: (v) => `${v.toFixed(0)} ms` },
      { label: `deliveries/s, ${k} in flight`, value: (r) => roundOf(r, k)?.deliveries_per_s, format: (v) => `${(v / 1000).toFixed(0)}k` },
      { label: `server CPU per delivery, ${k} in flight`, value: (r) => roundOf(r, k)?.server_cpu_us_per_delivery, format: (v) => `${v.toFixed(2)} µs` },
      { label: `all broadcasts complete (round window), ${k} in flight`, value: (r) => roundOf(r, k)?.window_s, format: (v) => `${v.toFixed(1)} s` },
      { label: `packets dropped by the cores' input backlogs, ${k} in flight`, value: (r) => roundOf(r, k)?.tcp.backlogDrops, format: (v) => v.toFixed(0) },
      { label: `TCP segments sent again, ${k} in flight`, value: (r) => roundOf(r, k)?.tcp.retransmits, format: (v) => v.toFixed(0) },
      { label: `TCP retransmission timeouts, ${k} in flight`, value: (r) => roundOf(r, k)?.tcp.timeouts, format: (v) => v.toFixed(0) },
      { label: `time under TCP memory pressure, ${k} in flight`, value: (r) => roundOf(r, k)?.tcp.memoryPressureMs, format: (v) => `${(v / 1000).toFixed(1)} s` },
    );
  }
  list.push(
    { label: "server RSS per connection", value: (r) => r.rss_per_connection, format: kib },
    { label: "RSS, all server processes", value: (r) => r.rss_joined.servers, format: mib },
    { label: "RSS, all client processes", value: (r) => r.rss_joined.clients, format: mib },
    { label: "RSS, redis-server", value: (r) => r.rss_joined.redis, format: mib },
    { label: "kernel Slab (machine)", value: (r) => r.kernel_joined.slab, format: mib },
    { label: "kernel Slab growth per connection pair", value: perConnection((r) => r.kernel_joined.slab_growth), format: kib },
    { label: "TCP buffer memory (sockstat), joined", value: (r) => r.kernel_joined.tcp_buffers, format: mib },
    { label: "TCP buffer memory (sockstat), peak", value: (r) => r.kernel_peaks.tcpBufferBytes, format: mib },
    { label: "kernel Slab (machine), peak", value: (r) => r.kernel_peaks.slabBytes, format: mib },
    { label: "MemAvailable (machine), lowest", value: (r) => r.kernel_peaks.memAvailableBytes, format: mib },
    { label: "most open files in one server process", value: (r) => r.max_files_per_node, format: (v) => v.toFixed(0) },
    { label: "Redis PUBLISH per broadcast", value: (r) => r.redis_per_broadcast.publish, format: (v) => v.toFixed(2) },
    { label: "Redis bytes out per broadcast", value: (r) => r.redis_per_broadcast.output_bytes, format: (v) => v.toFixed(0) },
    { label: "Redis CPU per broadcast", value: (r) => r.redis_per_broadcast.cpu_ms, format: (v) => `${v.toFixed(2)} ms` },
    { label: "packets dropped by the cores' input backlogs, whole run", value: (r) => r.tcp.backlogDrops, format: (v) => v.toFixed(0) },
    { label: "TCP segments sent again, whole run", value: (r) => r.tcp.retransmits, format: (v) => v.toFixed(0) },
    { label: "TCP segments dropped for a full receive queue, whole run", value: (r) => r.tcp.receiveQueueDrops, format: (v) => v.toFixed(0) },
    { label: "time under TCP memory pressure, whole run", value: (r) => r.tcp.memoryPressureMs, format: (v) => `${(v / 1000).toFixed(1)} s` },
    { label: "load average before the run", value: (r) => r.load_average_before, format: (v) => v.toFixed(2) },
  );
  return list;
}

/** One figure per target, the median over the runs that finished; and Cinder ÷ raw uWS. */
export function printOneTopicTable(results: readonly RunResult[], targets: readonly TargetName[]): void {
  const finished = results.filter((r) => !r.aborted);
  const of = (target: TargetName): RunResult[] => finished.filter((r) => r.target === target);
  const inflights = [...new Set(finished.flatMap((r) => r.rounds.map((x) => x.inflight)))];
  const both = targets.includes("cinder") && targets.includes("raw-uws");
  console.log(`\n| | ${targets.join(" | ")} |${both ? " Cinder ÷ raw uWS |" : ""}`);
  console.log(`|---|${targets.map(() => "---:").join("|")}|${both ? "---:|" : ""}`);
  for (const m of metrics(inflights)) {
    const medians = targets.map((t) => median(of(t).flatMap((r) => m.value(r) ?? [])));
    const ratio = both ? ` ${(medians[targets.indexOf("cinder")] / medians[targets.indexOf("raw-uws")]).toFixed(2)} |` : "";
    console.log(`| ${m.label} | ${medians.map((v) => (Number.isFinite(v) ? m.format(v) : "–")).join(" | ")} |${ratio}`);
  }
  const worst = (t: TargetName, pick: (r: RunResult) => number): number => Math.max(0, ...of(t).map(pick));
  console.log(
    `\nmissing deliveries (max over runs): ${targets.map((t) => `${t} ${worst(t, (r) => Math.max(0, ...r.rounds.map((x) => x.missing)))}`).join(", ")}; ` +
      `failures (connect, join, closed, protocol): ${targets.map((t) => `${t} ${worst(t, (r) => r.failures)}`).join(", ")}`,
  );
  for (const r of results) if (r.aborted) console.log(`aborted run (${r.target}): ${r.aborted}`);
  for (const r of results) {
    if (!r.aborted && r.subscriptions < r.sockets) {
      console.log(`incomplete run (${r.target}): ${r.connected.toLocaleString("en")} of ${r.sockets.toLocaleString("en")} connected within ${r.connect_s.toFixed(0)} s, ${r.subscriptions.toLocaleString("en")} joined within ${r.join_s.toFixed(0)} s`);
    }
  }
}
