/**
 * Failover: a node dies, its clients come back whole.
 *   npm run bench -- failover [--clients 16000] [--rooms 200] [--rate 2000] [--workers 2]
 *     [--variants new,today] [--before-s 10] [--after-s 10] [--client-processes 4]
 *     [--server-cores 0,1] [--json]
 *
 * Per variant, a run of its own: a redis-server and two CLI nodes (the demo app, `WORKERS`
 * workers, REDIS_URL, each on its own loopback port), pinned to `--server-cores` (both cores
 * by default: at full size two nodes fanning out 160,000 deliveries a second over loopback TCP
 * need more than one core of this machine, most of it the kernel's); `--client-processes`
 * native processes of Phoenix-protocol clients (bench/native/failover/failover.c, epoll, one
 * socket a client, each process its own source addresses 127.0.0.x) pinned to core 1, client i
 * starting on node i mod 2 in history room `room:fo<i mod rooms>`, each reconnecting with
 * phoenix.js's backoff (each attempt to the next node) and rejoining with `_since`; they take
 * phase changes and each room's last offset as lines on stdin and report on stderr (counters,
 * every 200 ms) and stdout (their checks). A publisher (a Node process, core 1) pushes `--rate`
 * messages a second over the rooms from sockets on the second node, each body its room's
 * sequence number and its send time on CLOCK_MONOTONIC, the clock the clients read. Native
 * clients, because Node ones would saturate their core at full size (160,000 messages a
 * second) and report their own queueing as latency and their own late timers as join
 * timeouts. After `--before-s` of traffic, kill -9 of the first node; its clients come back on
 * the second, which then holds every socket. `--after-s` after the last one is joined again,
 * the traffic stops; once every client has its room's last offset (or 30 s), each client's
 * checks are summed: offsets missing (holes, refused recoveries, short of the room's last offset
 * at the end) and duplicated.
 *
 * Variants: `new` is the default settings; `today` turns off what this run measures
 * (HISTORY_READ_COALESCE_MAX=1: every history read goes to Redis alone; MAX_PENDING_JOINS=0:
 * no refusal when saturated). Figures: time from the kill until every client was joined again,
 * missing and duplicated, publish-to-receive p50/p99 of the clients that never left the survivor
 * before the kill, from the kill until all were back, and after; the survivor's history reads
 * asked for and sent to Redis (its metrics) and Redis's EVALSHA and XRANGE calls over the
 * recovery (INFO commandstats: a history read is one EVALSHA, with one XRANGE when it reads
 * entries), upgrades refused with 503, handshakes timed out. Every process is killed at the
 * end, on failure and on Ctrl-C (the client processes also die with this one: PR_SET_PDEATHSIG);
 * a run that does not finish in 5 minutes fails.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";

import { exitOnSignals, killAll, spawnTracked } from "../lib/chaos/tracked-processes.js";
import { followOutput } from "../lib/chaos/process-output.js";
import { parseFlags } from "../lib/flags.js";
import { LatencyHistogram } from "../lib/failover/latency-histogram.js";
import { startFailoverClients, type FailoverClients } from "../lib/failover/failover-clients.js";
import type { FromPublisher, ToPublisher } from "../lib/failover/failover-publisher.js";
import { PHASES, type ClientsFinal, type ClientsStatus, type Phase, type PublisherStatus, type RoomTop } from "../lib/failover/failover-types.js";
import { redisDelta, redisSnapshot } from "../lib/history-redis-stats.js";
import { repoRoot } from "../lib/repo-root.js";
import { freePort } from "../lib/server-process.js";
import { UNLIMITED, linkedTo } from "../lib/targets.js";
import { hashTag } from "../../server/redis/hash-tag.js";

const RUN_TIMEOUT_MS = 5 * 60_000;
const BACK_TIMEOUT_MS = 90_000;
const CATCH_UP_MS = 30_000;
const PUBLISHER_SOCKETS = 10;
/** The core of the client processes and the publisher; the nodes and Redis have core 0. */
const CLIENTS_CORE = 1;
/** Clients a source address (127.0.0.x) holds: each process's sockets have addresses of their own. */
const CLIENTS_PER_SOURCE = 4000;
const METRICS_TIMEOUT_MS = 30_000;

const VARIANTS: Record<string, Record<string, string>> = {
  new: {},
  today: { HISTORY_READ_COALESCE_MAX: "1", MAX_PENDING_JOINS: "0" },
};

export interface FailoverOptions {
  clients: number;
  rooms: number;
  rate: number;
  workers: number;
  beforeMs: number;
  afterMs: number;
  processes: number;
  /** taskset's core list for the nodes and Redis ("0": core 0 alone; "0,1": both, shared with the clients). */
  serverCores: string;
}

export interface FailoverResult {
  variant: string;
  backMs: number | null;
  survivorSockets: number;
  moved: number;
  missing: number;
  tailMissing: number;
  duplicated: number;
  recovered: number;
  notRecovered: number;
  replayed: number;
  epochChanges: number;
  latency: Record<Phase, { p50: number; p99: number; count: number }>;
  movedLatency: Record<Phase, { p50: number; p99: number; count: number }>;
  reads: number;
  storeReads: number;
  redisEvalsha: number;
  redisXrange: number;
  refused503: number;
  refusedBySurvivor: number;
  handshakeTimeouts: number;
  joinTimeouts: number;
  failedConnects: number;
  published: PublisherStatus;
  logDir: string;
}

export async function run(args: string[]): Promise<void> {
  exitOnSignals();
  const f = parseFlags(args);
  const options: FailoverOptions = {
    clients: f.number("clients", 16_000),
    rooms: f.number("rooms", 200),
    rate: f.number("rate", 2000),
    workers: f.number("workers", 2),
    beforeMs: f.number("before-s", 10) * 1000,
    afterMs: f.number("after-s", 10) * 1000,
    processes: f.number("client-processes", 4),
    serverCores: f.string("server-cores", "0,1"),
  };
  const variants = f.strings("variants", ["new", "today"]);
  for (const name of variants) if (!VARIANTS[name]) throw new Error(`unknown variant ${name} (${Object.keys(VARIANTS).join(", ")})`);
  const watchdog = setTimeout(() => {
    console.error(`failover: no result within ${RUN_TIMEOUT_MS / 60_000} min per variant; stopping every process`);
    process.exit(1);
  }, RUN_TIMEOUT_MS * variants.length);
  watchdog.unref();
  const results: FailoverResult[] = [];
  try {
    for (const name of variants) {
      console.error(`── variant ${name} ──`);
      const result = await measureFailover(name, options);
      results.push(result);
      if (f.has("json")) console.log(JSON.stringify(result));
    }
  } finally {
    killAll();
  }
  console.log(formatResults(options, results));
}

async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function health(port: number): Promise<{ status: string; sockets: number } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
    return (await response.json()) as { status: string; sockets: number };
  } catch {
    return undefined;
  }
}

async function metric(port: number, name: string, labels = ""): Promise<number> {
  // A node starved of CPU answers late; a figure missing is NaN, not a hung run.
  const text = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(METRICS_TIMEOUT_MS) }).then(
    (response) => response.text(),
    () => "",
  );
  if (text === "") return Number.NaN;
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `) || (labels === "" && l.startsWith(`${name} `)));
  return line ? Number(line.split(" ")[1]) : 0;
}

function startNode(name: string, port: number, redisUrl: string, options: FailoverOptions, env: Record<string, string>, logDir: string): ChildProcess {
  const { workers } = options;
  const child = spawnTracked("taskset", ["-c", options.serverCores, process.execPath, join(repoRoot(), "dist", "server", "cli.js")], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", WORKERS: String(workers), NODE_NAME: name, LOG_LEVEL: "warn", ...linkedTo(redisUrl), ...UNLIMITED, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  followOutput(child, join(logDir, `${name}.log`), () => undefined);
  return child;
}

function startPublisher(message: ToPublisher, onMessage: (message: FromPublisher) => void): ChildProcess {
  // The built one, as the nodes' dist/server/cli.js: so from a test (TypeScript sources) too.
  const script = join(repoRoot(), "dist", "bench", "lib", "failover", "failover-publisher.js");
  const child = fork(script, [], { execPath: "taskset", execArgv: ["-c", String(CLIENTS_CORE), process.execPath], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  // fork through taskset: the child is node itself (taskset execs it), so signals reach it.
  trackFork(child);
  child.on("message", onMessage);
  child.send(message);
  return child;
}

const forks = new Set<ChildProcess>();
function trackFork(child: ChildProcess): void {
  forks.add(child);
  child.once("exit", () => forks.delete(child));
}
process.once("exit", () => {
  for (const child of forks) child.kill("SIGKILL");
});

/** One variant's run: its own Redis, nodes, clients and publisher, all stopped at the end. */
export async function measureFailover(variant: string, options: FailoverOptions): Promise<FailoverResult> {
  const logDir = mkdtempSync(join(tmpdir(), `cinder-failover-${variant}-`));
  const redisPort = await freePort();
  const redisChild = spawnTracked("taskset", ["-c", options.serverCores, "redis-server", "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
  followOutput(redisChild, join(logDir, "redis.log"), () => undefined);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => undefined); // refused until redis-server listens: retried below
  try {
    await waitFor(async () => (await redis.connect().then(() => redis.ping(), () => undefined)) === "PONG" || undefined, "redis", 10_000);
    const ports = [await freePort(), await freePort()];
    const env = VARIANTS[variant];
    const victim = startNode("a", ports[0], redisUrl, options, env, logDir);
    startNode("b", ports[1], redisUrl, options, env, logDir);
    for (const port of ports) await waitFor(async () => (await health(port))?.status === "ok" || undefined, `node on ${port}`, 60_000);
    console.error(`redis and two nodes up (logs in ${logDir})`);

    // Clients.
    const children: FailoverClients[] = [];
    const per = Math.ceil(options.clients / options.processes);
    const addressesPer = Math.ceil(per / CLIENTS_PER_SOURCE);
    for (let p = 0; p < options.processes; p++) {
      const from = p * per;
      const to = Math.min(options.clients, from + per);
      const source = `127.0.0.${2 + p * addressesPer}`;
      if (from < to) children.push(startFailoverClients({ ports, from, to, rooms: options.rooms, source, perSource: CLIENTS_PER_SOURCE, core: CLIENTS_CORE }));
    }
    const statuses = () => children.map((child) => child.status()).filter((status): status is ClientsStatus => status !== undefined);
    const sum = (field: keyof ClientsStatus) => statuses().reduce((total, s) => total + s[field], 0);
    const joined = () => sum("joined");
    await waitFor(() => joined() === options.clients || undefined, `${options.clients} clients joined`, 120_000);
    console.error(`${options.clients} clients joined ${options.rooms} rooms`);

    // Traffic.
    let published: PublisherStatus = { type: "published", sent: 0, ok: 0, errors: 0, timeouts: 0 };
    let sentInAll: number | undefined;
    const publisher = startPublisher({ type: "start", port: ports[1], rooms: options.rooms, rate: options.rate, sockets: PUBLISHER_SOCKETS }, (message) => {
      if (message.type === "stopped") sentInAll = message.sent;
      else published = message;
    });
    await sleep(1000); // its sockets open and join
    publisher.send({ type: "publish", on: true } satisfies ToPublisher);
    const phase = (name: Phase) => {
      for (const child of children) child.phase(name);
    };
    phase("before");
    await sleep(options.beforeMs);

    // The kill.
    const readsBefore = await metric(ports[1], "cinder_history_reads_total");
    const storeReadsBefore = await metric(ports[1], "cinder_history_store_reads_total");
    const refusedBefore = await metric(ports[1], "cinder_connects_rejected_total", '{reason="saturated"}');
    const redisBefore = await redisSnapshot(redis);
    phase("during");
    const killedAt = Date.now();
    victim.kill("SIGKILL");
    console.error("node a killed (SIGKILL)");
    let backMs: number | null = null;
    try {
      // Every client of the killed node (half of them) has seen its socket close and is joined again.
      const back = () => sum("moved") >= Math.floor(options.clients / 2) && sum("movedJoined") === sum("moved") && joined() === options.clients;
      const progress = setInterval(() => console.error(`  joined ${joined()}, moved ${sum("moved")} (joined again ${sum("movedJoined")}), 503 ${sum("refused503")}, handshake timeouts ${sum("handshakeTimeouts")}, join timeouts ${sum("joinTimeouts")}`), 5000);
      await waitFor(() => back() || undefined, "every client joined again", BACK_TIMEOUT_MS).finally(() => clearInterval(progress));
      backMs = Math.max(...statuses().map((s) => s.lastJoinedAt)) - killedAt;
    } catch (err) {
      console.error(String(err));
    }
    phase("after");
    const survivor = await waitFor(async () => {
      const h = await health(ports[1]);
      return h && h.sockets >= options.clients ? h : undefined;
    }, "the survivor to hold every socket", 10_000).catch(() => health(ports[1]));
    const redisAfter = await redisSnapshot(redis);
    const reads = (await metric(ports[1], "cinder_history_reads_total")) - readsBefore;
    const storeReads = (await metric(ports[1], "cinder_history_store_reads_total")) - storeReadsBefore;
    const refusedBySurvivor = (await metric(ports[1], "cinder_connects_rejected_total", '{reason="saturated"}')) - refusedBefore;
    console.error(`all back after ${backMs} ms; the survivor holds ${survivor?.sockets} sockets`);
    await sleep(options.afterMs);

    // The end: traffic stops, every client must reach its room's last offset.
    publisher.send({ type: "publish", on: false } satisfies ToPublisher);
    // A status from before the stop may not count the last pushes: wait for one that does.
    const answered = () => sentInAll !== undefined && published.sent >= sentInAll && published.ok + published.errors + published.timeouts >= published.sent;
    await waitFor(() => answered() || undefined, "every push answered", 20_000).catch(() => undefined);
    const tops: Record<string, RoomTop> = {};
    for (let r = 0; r < options.rooms; r++) {
      const topic = `room:fo${r}`;
      const base = `cinder:h:${hashTag(topic)}`;
      const [seq, epoch] = await redis.mget(`${base}:seq`, `${base}:epoch`);
      tops[topic] = { o: Number(seq ?? 0), e: epoch ?? "" };
    }
    const finals = new Map<number, ClientsFinal>();
    const reports = children.map((child, p) =>
      child.finish(tops, CATCH_UP_MS).then(
        (final) => void finals.set(p, final),
        (err: unknown) => console.error(String(err)),
      ),
    );
    // A process that fails or answers late: the figures then hold the processes that answered.
    await Promise.race([Promise.all(reports), new Promise((resolve) => setTimeout(resolve, CATCH_UP_MS + 60_000).unref())]);
    if (finals.size < children.length) console.error(`figures of ${finals.size} of ${children.length} client processes`);

    const total = (field: "missing" | "tailMissing" | "duplicated" | "recovered" | "notRecovered" | "replayed" | "epochChanges" | "moved") =>
      [...finals.values()].reduce((s, final) => s + final[field], 0);
    const merged = (group: "stayed" | "moved") =>
      Object.fromEntries(
        PHASES.map((p) => {
          const histogram = new LatencyHistogram();
          for (const final of finals.values()) histogram.merge(LatencyHistogram.fromSparse(final.histograms[p][group]));
          return [p, { p50: histogram.quantile(0.5), p99: histogram.quantile(0.99), count: histogram.total }];
        }),
      ) as FailoverResult["latency"];
    const delta = redisDelta(redisBefore, redisAfter);
    return {
      variant,
      backMs,
      survivorSockets: survivor?.sockets ?? 0,
      moved: total("moved"),
      missing: total("missing"),
      tailMissing: total("tailMissing"),
      duplicated: total("duplicated"),
      recovered: total("recovered"),
      notRecovered: total("notRecovered"),
      replayed: total("replayed"),
      epochChanges: total("epochChanges"),
      latency: merged("stayed"),
      movedLatency: merged("moved"),
      reads,
      storeReads,
      redisEvalsha: delta.calls.get("evalsha") ?? 0,
      redisXrange: delta.calls.get("xrange") ?? 0,
      refused503: sum("refused503"),
      refusedBySurvivor,
      handshakeTimeouts: sum("handshakeTimeouts"),
      joinTimeouts: sum("joinTimeouts"),
      failedConnects: sum("failed"),
      published,
      logDir,
    };
  } finally {
    redis.disconnect();
    for (const child of forks) child.kill("SIGKILL");
    killAll();
    await sleep(500);
  }
}

function formatResults(options: FailoverOptions, results: FailoverResult[]): string {
  const ms = (n: number | null) => (n === null || Number.isNaN(n) ? "–" : `${n}`);
  const lines = [
    `failover: ${options.clients} clients in ${options.rooms} history rooms on two nodes (WORKERS=${options.workers}), ${options.rate} pushes/s; kill -9 of one node`,
    "",
    `| | ${results.map((r) => r.variant).join(" | ")} |`,
    `|---|${results.map(() => "---:").join("|")}|`,
  ];
  const row = (label: string, value: (r: FailoverResult) => string | number) => lines.push(`| ${label} | ${results.map((r) => String(value(r))).join(" | ")} |`);
  row("all back after the kill, ms", (r) => ms(r.backMs));
  row("clients moved / sockets on the survivor", (r) => `${r.moved} / ${r.survivorSockets}`);
  row("missing (of which short at the end)", (r) => `${r.missing} (${r.tailMissing})`);
  row("duplicated", (r) => r.duplicated);
  row("rejoins recovered / not recovered", (r) => `${r.recovered} / ${r.notRecovered}`);
  row("messages replayed", (r) => r.replayed);
  for (const p of PHASES) row(`stayers' latency ${p}: p50 / p99 ms (messages)`, (r) => `${ms(r.latency[p].p50)} / ${ms(r.latency[p].p99)} (${r.latency[p].count})`);
  for (const p of ["during", "after"] as const) row(`movers' live latency ${p}: p50 / p99 ms`, (r) => `${ms(r.movedLatency[p].p50)} / ${ms(r.movedLatency[p].p99)}`);
  row("survivor's history reads asked / sent to Redis", (r) => `${r.reads} / ${r.storeReads}`);
  row("Redis EVALSHA / XRANGE calls over the recovery", (r) => `${r.redisEvalsha} / ${r.redisXrange}`);
  row("upgrades refused 503 (clients saw / survivor counted)", (r) => `${r.refused503} / ${r.refusedBySurvivor}`);
  row("handshakes timed out / joins timed out / other connect failures", (r) => `${r.handshakeTimeouts} / ${r.joinTimeouts} / ${r.failedConnects}`);
  row("pushes sent / ok / errors / timeouts", (r) => `${r.published.sent} / ${r.published.ok} / ${r.published.errors} / ${r.published.timeouts}`);
  lines.push("", `logs: ${results.map((r) => r.logDir).join(", ")}`);
  return lines.join("\n");
}
