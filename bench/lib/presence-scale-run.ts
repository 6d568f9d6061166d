/**
 * One run of the presence-scale benchmark: a room of `members` sockets over Cinder nodes sharing
 * one port through a redis-server of its own, joins and leaves at `churnRate` a second for
 * `churnSeconds`, and sample clients on every node timing each presence_count they receive
 * against the truth (count-staleness.ts). Every process it starts is stopped when the run ends,
 * fails, or when `stopAll` is called (Ctrl-C).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";

import { roomAt, tallyChanges, type ChangeLog, type ChangeTally, type RoomBounds } from "./change-accounting.js";
import { benchNodeName, startLocalCluster, type LocalCluster } from "./cluster-processes.js";
import { countStaleness, summarize, type Ack, type CountSeen, type StalenessSummary } from "./count-staleness.js";
import { RoomBand } from "./room-bounds.js";
import { metricsOfEachNode, type NodeMetrics } from "./each-node-metrics.js";
import { CLIENT_CORE, SERVER_CORE } from "./measure.js";
import { trySampleProcess } from "./proc-stats.js";
import { readScaleEvents, startScaleClient, type ScaleClient, type ScaleClientReport } from "./scale-client.js";
import { ownersOf } from "./socket-owner.js";

/** Sockets per client process: under its 20,000 open files. */
const SOCKETS_PER_CLIENT = 19_000;
/** Sockets per node by default: under 19,500 with room for the kernel's uneven spread over the nodes. */
export const SOCKETS_PER_NODE = 16_000;
/** Source addresses per client process (one per 4,000 sockets: ~28,000 ephemeral ports per address and port). */
const SOURCES_PER_CLIENT = 5;
const PER_SOURCE = 4000;

export interface PresenceScaleShape {
  members: number;
  /** server processes; default one per SOCKETS_PER_NODE sockets */
  nodes?: number;
  /** joins + leaves a second, all clients together */
  churnRate: number;
  churnSeconds: number;
  /** joins a second while the room fills */
  joinRate: number;
  /** sample sockets per client process (they always follow the count) */
  samplesPerClient: number;
  mode: "count" | "list";
  pin: boolean;
  timeoutSeconds: number;
  /** env for every node (e.g. a shorter COUNT_INTERVAL_MS) */
  nodeEnv?: Record<string, string>;
  /** every how many seconds of the churn each node's presence replica is read from /metrics (its lag); 0 = at the start and end only */
  scrapeSeconds?: number;
  /** seconds after the window to read each node's replica once more (its entries then), with nothing changing; 0 = not read */
  settleSeconds?: number;
}

/** The presence replica's families read from each node's /metrics (docs/metrics.md, Presence). */
export const TRACKER_FAMILIES = [
  "cinder_presence_entries",
  "cinder_presence_replica_lag",
  "cinder_presence_gossip_delay_seconds",
  "cinder_presence_replicas",
  "cinder_presence_deltas_total",
  "cinder_presence_delta_entries_total",
  "cinder_presence_transfer_requests_total",
  "cinder_presence_transfers_total",
  "cinder_presence_transfer_entries_total",
] as const;

/** One node's presence replica as /metrics showed it (summed over its worker threads). */
export interface NodeTracker {
  /** when the churn started and once it was over (after the wait for the last counts) */
  atStart: NodeMetrics;
  atEnd: NodeMetrics;
  /** the highest cinder_presence_replica_lag read, and at how many seconds into the churn */
  peakLag: number;
  peakLagAtSeconds: number;
  /** lag read during the churn, in order (every scrapeSeconds) */
  lagSamples: number[];
  /** the highest cinder_presence_gossip_delay_seconds read (how late the node read its gossip), and when */
  peakDelaySeconds: number;
  peakDelayAtSeconds: number;
  /** the replica read settleSeconds after the window (undefined when not asked for, or not reached) */
  settled?: NodeMetrics;
}

/** One reading of a node's replica during the churn. */
interface TrackerSample {
  seconds: number;
  lag: number;
  delay: number;
}

const trackerSample = (seconds: number, metrics: NodeMetrics): TrackerSample => ({
  seconds,
  lag: metrics.cinder_presence_replica_lag ?? 0,
  delay: metrics.cinder_presence_gossip_delay_seconds ?? 0,
});

export interface NodeFigures {
  pid: number;
  samples: number;
  staleness: StalenessSummary;
  /** undefined when the node could not be reached over the shared port */
  tracker?: NodeTracker;
}

export interface PresenceScaleResult {
  members: number;
  nodes: number;
  clients: number;
  mode: "count" | "list";
  /** seconds from the first join until every member had its reply */
  fillSeconds: number;
  /** the window measured: from "churn" until the last counts are in */
  windowSeconds: number;
  /** joins and leaves acknowledged in the window */
  changes: number;
  /** room size at the start and end of the window (the truth) */
  membersAtStart: number;
  membersAtEnd: number;
  /** joins and leaves sent, acknowledged and voided in the window, and unanswered at its end */
  changesInWindow: ChangeTally;
  /** the room at the window's end: acknowledged (membersAtEnd), and with the changes unanswered then */
  roomAtEnd: RoomBounds;
  /** the same from the window's start until the clients quit (what was never answered) */
  changesUntilQuit: ChangeTally;
  /** from the window's start until the settle read, and the room then (when settleSeconds > 0) */
  changesUntilSettle?: ChangeTally;
  roomAtSettle?: RoomBounds;
  staleness: StalenessSummary;
  /**
   * The same counts against the band the room was in (room-bounds.ts: each join and leave counted
   * anywhere between its send and its reply): the least age each can have, so a count older than
   * the limit here certainly was.
   */
  stalenessAtLeast: StalenessSummary;
  perNode: NodeFigures[];
  /** samples whose node was not found */
  samplesUnplaced: number;
  /** CPU seconds in the window: the nodes together, redis-server */
  nodeCpuSeconds: number;
  redisCpuSeconds: number;
  /** the client processes together (a share near 1 core: the figures are bounded by the client) */
  clientCpuSeconds: number;
  /** bytes every client socket received in the window */
  bytesToClients: number;
  /** Redis network bytes in the window: in (from the nodes), out (to them) */
  redisBytesIn: number;
  redisBytesOut: number;
  /** node RSS at the end, bytes, summed */
  nodeRssBytes: number;
  clientReports: ScaleClientReport[];
  /** load average (1 min) when the window ended */
  loadAverage: number;
  /** seconds after the window each replica was read again (0: not read) */
  settleSeconds: number;
}

interface Running {
  cluster?: LocalCluster;
  clients: ScaleClient[];
}

const running = new Set<Running>();

/** Stops every process of every run still going (for Ctrl-C). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map(stopRun));
}

async function stopRun(r: Running): Promise<void> {
  for (const client of r.clients) client.kill();
  await r.cluster?.stop();
  running.delete(r);
}

async function redisNetBytes(redis: Redis): Promise<{ input: number; output: number; cpu: number }> {
  const [stats, cpu] = await Promise.all([redis.info("stats"), redis.info("cpu")]);
  const field = (text: string, name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? "0");
  return { input: field(stats, "total_net_input_bytes"), output: field(stats, "total_net_output_bytes"), cpu: field(cpu, "used_cpu_sys") + field(cpu, "used_cpu_user") };
}

const cpuOf = (pids: readonly number[]): number => pids.reduce((sum, pid) => sum + (trySampleProcess(pid)?.cpuSeconds ?? 0), 0);

/** The truth at time t: the acks up to t. */
function truthAt(acks: readonly Ack[], t: number): number {
  let n = 0;
  for (const a of acks) if (a.t <= t) n += a.delta;
  return n;
}

function nodeTracker(atStart: NodeMetrics, atEnd: NodeMetrics, samples: TrackerSample[], endSeconds: number): NodeTracker {
  const all = [...samples, trackerSample(endSeconds, atEnd)];
  const peakOf = (figure: "lag" | "delay"): TrackerSample => all.reduce((best, sample) => (sample[figure] > best[figure] ? sample : best), { seconds: 0, lag: 0, delay: 0 });
  const lag = peakOf("lag");
  const delay = peakOf("delay");
  return {
    atStart,
    atEnd,
    peakLag: lag.lag,
    peakLagAtSeconds: lag.seconds,
    lagSamples: samples.map((sample) => sample.lag),
    peakDelaySeconds: delay.delay,
    peakDelayAtSeconds: delay.seconds,
  };
}

export async function measurePresenceScale(shape: PresenceScaleShape): Promise<PresenceScaleResult> {
  const spareOf = (rate: number): number => Math.ceil(rate * 2) + 200;
  const clientCount = Math.max(1, Math.ceil((shape.members + spareOf(shape.churnRate)) / SOCKETS_PER_CLIENT));
  const perClientRate = shape.churnRate / clientCount;
  const spare = spareOf(perClientRate);
  const totalSockets = shape.members + spare * clientCount;
  const nodes = shape.nodes ?? Math.max(1, Math.ceil(totalSockets / SOCKETS_PER_NODE));
  const dir = mkdtempSync(join(tmpdir(), "presence-scale-"));
  const r: Running = { clients: [] };
  running.add(r);
  try {
    r.cluster = await startLocalCluster(nodes, shape.pin ? SERVER_CORE : undefined, true, { env: { LOG_LEVEL: "error", ...shape.nodeEnv }, startTimeoutMs: 120_000 });
    const cluster = r.cluster;
    const topic = "room:scale";
    const fillStarted = performance.now();
    for (let c = 0; c < clientCount; c++) {
      const members = Math.floor(shape.members / clientCount) + (c < shape.members % clientCount ? 1 : 0);
      r.clients.push(
        startScaleClient({
          port: cluster.port,
          topic,
          members,
          spare,
          firstKey: c * 10_000_000,
          source: `127.0.0.${1 + c * SOURCES_PER_CLIENT}`,
          perSource: PER_SOURCE,
          joinRate: shape.joinRate / clientCount,
          churnRate: perClientRate,
          samples: Math.min(shape.samplesPerClient, members),
          mode: shape.mode,
          eventsFile: join(dir, `client-${c}.events`),
          timeoutSeconds: shape.timeoutSeconds,
          core: shape.pin ? CLIENT_CORE : undefined,
        }),
      );
    }
    const sampleAddresses = await Promise.all(r.clients.map((client) => client.joined));
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    const owners = sampleAddresses.map((endpoints) => ownersOf(cluster.port, endpoints, cluster.nodePids));
    await sleep(2000); // the fill's last counts are in
    const nodeNames = cluster.nodePids.map((_, i) => benchNodeName(i));
    const scrape = () => metricsOfEachNode(cluster.port, nodeNames, TRACKER_FAMILIES);
    const trackerAtStart = await scrape();

    const redisBefore = await redisNetBytes(cluster.redis);
    const cpuBefore = cpuOf(cluster.nodePids);
    const clientCpuBefore = cpuOf(r.clients.map((client) => client.pid));
    // The window starts on this clock: CLOCK_MONOTONIC, as the clients' times.
    const from = Number(process.hrtime.bigint()) / 1e6;
    for (const client of r.clients) client.command("churn");
    const trackerSamples = new Map<string, TrackerSample[]>(nodeNames.map((name) => [name, []]));
    const churnEnds = performance.now() + shape.churnSeconds * 1000;
    const every = (shape.scrapeSeconds ?? 0) * 1000;
    while (every > 0 && performance.now() + every < churnEnds) {
      await sleep(every);
      const seconds = (Number(process.hrtime.bigint()) / 1e6 - from) / 1000;
      for (const [name, metrics] of await scrape()) trackerSamples.get(name)?.push(trackerSample(seconds, metrics));
    }
    await sleep(Math.max(0, churnEnds - performance.now()));
    for (const client of r.clients) client.command("stop");
    await sleep(2500); // replies to the last changes, and the count that follows them
    const until = Number(process.hrtime.bigint()) / 1e6;
    const nodeCpuSeconds = cpuOf(cluster.nodePids) - cpuBefore;
    const clientCpuSeconds = cpuOf(r.clients.map((client) => client.pid)) - clientCpuBefore;
    const redisAfter = await redisNetBytes(cluster.redis);
    const nodeRssBytes = cluster.nodePids.reduce((sum, pid) => sum + (trySampleProcess(pid)?.rssBytes ?? 0), 0);
    const loadAverage = Number((await import("node:os")).loadavg()[0].toFixed(2));
    const trackerAtEnd = await scrape();
    // With nothing changing, every replica should come to the truth: one that does not has lost something.
    let trackerSettled = new Map<string, NodeMetrics>();
    let settleAt: number | undefined;
    if ((shape.settleSeconds ?? 0) > 0) {
      await sleep(shape.settleSeconds! * 1000);
      // Changes acknowledged before the read began are in the room every replica should hold.
      settleAt = Number(process.hrtime.bigint()) / 1e6;
      trackerSettled = await scrape();
    }
    for (const client of r.clients) client.command("quit");
    const clientReports = await Promise.all(r.clients.map((client) => client.done));

    const acks: Ack[] = [];
    const sent: Ack[] = [];
    const voided: Ack[] = [];
    const counts: CountSeen[] = [];
    r.clients.forEach((_, c) => {
      const events = readScaleEvents(join(dir, `client-${c}.events`), c);
      acks.push(...events.acks);
      sent.push(...events.sent);
      voided.push(...events.voided);
      counts.push(...events.counts);
    });
    acks.sort((a, b) => a.t - b.t);
    const changeLog: ChangeLog = { sent, acks, voided };
    const staleness = countStaleness(acks, counts, from, until);
    const band = new RoomBand(changeLog);
    const stalenessAtLeast = summarize((keys, t) => band.ageOf(keys, t), counts, from, until);
    const nodeOfClient = new Map<string, number | undefined>();
    owners.forEach((list, c) => list.forEach((pid, s) => nodeOfClient.set(`${c}:${s}`, pid)));
    const perNode = cluster.nodePids.map((pid, i): NodeFigures => {
      const mine = counts.filter((seen) => nodeOfClient.get(seen.client) === pid);
      const name = nodeNames[i];
      const atStart = trackerAtStart.get(name);
      const atEnd = trackerAtEnd.get(name);
      const tracker = atStart && atEnd ? { ...nodeTracker(atStart, atEnd, trackerSamples.get(name) ?? [], (until - from) / 1000), settled: trackerSettled.get(name) } : undefined;
      return { pid, samples: new Set(mine.map((seen) => seen.client)).size, staleness: countStaleness(acks, mine, from, until), tracker };
    });
    return {
      members: shape.members,
      nodes,
      clients: clientCount,
      mode: shape.mode,
      fillSeconds,
      windowSeconds: (until - from) / 1000,
      changes: acks.filter((a) => a.t >= from && a.t <= until).length,
      membersAtStart: truthAt(acks, from),
      membersAtEnd: truthAt(acks, until),
      changesInWindow: tallyChanges(changeLog, from, until),
      roomAtEnd: roomAt(changeLog, until),
      changesUntilQuit: tallyChanges(changeLog, from, Infinity),
      changesUntilSettle: settleAt === undefined ? undefined : tallyChanges(changeLog, from, settleAt),
      roomAtSettle: settleAt === undefined ? undefined : roomAt(changeLog, settleAt),
      staleness,
      stalenessAtLeast,
      perNode,
      samplesUnplaced: owners.flat().filter((pid) => pid === undefined).length,
      nodeCpuSeconds,
      redisCpuSeconds: redisAfter.cpu - redisBefore.cpu,
      clientCpuSeconds,
      bytesToClients: clientReports.reduce((sum, report) => sum + report.bytesInWindow, 0),
      redisBytesIn: redisAfter.input - redisBefore.input,
      redisBytesOut: redisAfter.output - redisBefore.output,
      nodeRssBytes,
      clientReports,
      loadAverage,
      settleSeconds: shape.settleSeconds ?? 0,
    };
  } finally {
    await stopRun(r);
    rmSync(dir, { recursive: true, force: true });
  }
}
