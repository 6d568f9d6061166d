/**
 * The faults of a chaos run, each applied and undone in full before the run goes on. How long a
 * fault lasts is the pacing's business: a benchmark waits fixed times, a test waits for what it
 * can observe.
 */
import type { ChaosCluster } from "./chaos-cluster.js";
import type { CinderNode } from "./cinder-node.js";
import type { ClientFleet } from "./client-fleet.js";
import type { StreamWatcher } from "./stream-watcher.js";

export const FAULT_NAMES = ["kill", "stop", "redis", "drain", "pubsub"] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

/** When each fault ends, and (bench) when the next begins. */
export interface Pacing {
  /** Before fault `index` (0-based) starts; the traffic started at `trafficStart`. */
  beforeFault(context: FaultContext, index: number, trafficStart: number): Promise<void>;
  /** After the last of `count` faults, before the traffic stops. */
  afterFaults(context: FaultContext, count: number, trafficStart: number): Promise<void>;
  /** A node has exited (kill -9): until it is started again. */
  nodeDown(context: FaultContext, node: CinderNode, since: number): Promise<void>;
  /** A node is stopped (SIGSTOP): until SIGCONT. */
  nodeStopped(context: FaultContext, node: CinderNode, since: number): Promise<void>;
  /** Redis has exited: until it is started again (empty). */
  redisDown(context: FaultContext, since: number): Promise<void>;
}

export interface FaultContext {
  readonly cluster: ChaosCluster;
  readonly fleet: ClientFleet;
  readonly watcher: StreamWatcher;
  readonly pacing: Pacing;
  /** Which node each node fault hits (index into cluster.nodes). */
  readonly targets: { kill: number; stop: number; drain: number };
  /** The faults so far, the one under way included. */
  readonly faults: FaultRecord[];
}

/** What happened in one fault. */
export interface FaultRecord {
  readonly name: FaultName;
  readonly label: string;
  /** When it began. */
  at: number;
  /** Steps with their time from `at`, e.g. "exited +0.01 s", "healthy +5.62 s". */
  readonly steps: string[];
  /** Seconds until a killed or drained node's presences left the other clients' lists (null: not within 60 s; undefined: it had none). */
  ghosts?: Promise<number | null>;
}

const since = (record: FaultRecord) => `+${((Date.now() - record.at) / 1000).toFixed(2)} s`;

async function restart(node: CinderNode, record: FaultRecord): Promise<void> {
  await node.start();
  record.steps.push(`${node.name} healthy again ${since(record)}`);
}

/** The node's presences as the other clients should stop listing them once it is gone (nothing to watch when it had none). */
function watchGhosts(context: FaultContext, index: number, record: FaultRecord): () => void {
  const refs = context.fleet.refsOn(index);
  return () => {
    if (refs.length > 0) record.ghosts = context.fleet.ghostsGone(refs, index, record.at);
  };
}

async function kill(context: FaultContext, record: FaultRecord): Promise<void> {
  const node = context.cluster.nodes[context.targets.kill];
  const ghosts = watchGhosts(context, context.targets.kill, record);
  node.signal("SIGKILL");
  await node.exited();
  ghosts();
  record.steps.push(`${node.name} killed (SIGKILL) ${since(record)}`);
  await context.pacing.nodeDown(context, node, record.at);
  await restart(node, record);
}

async function stop(context: FaultContext, record: FaultRecord): Promise<void> {
  const node = context.cluster.nodes[context.targets.stop];
  node.signal("SIGSTOP");
  await context.pacing.nodeStopped(context, node, record.at);
  node.signal("SIGCONT");
  record.steps.push(`${node.name} continued (SIGCONT) ${since(record)}`);
  await node.waitHealth((health) => health.status === "ok", "to answer after SIGCONT");
  record.steps.push(`${node.name} healthy ${since(record)}`);
}

async function redis(context: FaultContext, record: FaultRecord): Promise<void> {
  await context.watcher.read(); // what the streams held up to the outage
  await context.cluster.redis.kill();
  record.steps.push(`redis killed (SIGKILL) ${since(record)}`);
  await context.pacing.redisDown(context, record.at);
  await context.cluster.redis.start();
  record.steps.push(`redis answers PING again (empty) ${since(record)}`);
}

async function drain(context: FaultContext, record: FaultRecord): Promise<void> {
  const node = context.cluster.nodes[context.targets.drain];
  const ghosts = watchGhosts(context, context.targets.drain, record);
  node.signal("SIGTERM");
  const exit = await node.exited();
  ghosts();
  record.steps.push(`${node.name} drained, exited ${exit?.code ?? exit?.signal} ${since(record)}`);
  await restart(node, record);
}

async function pubsub(context: FaultContext, record: FaultRecord): Promise<void> {
  const killed = await context.cluster.command("CLIENT", "KILL", "TYPE", "pubsub");
  record.steps.push(`${String(killed)} pub/sub connections killed ${since(record)}`);
}

const RUN: Record<FaultName, (context: FaultContext, record: FaultRecord) => Promise<void>> = { kill, stop, redis, drain, pubsub };

export function faultLabel(name: FaultName, context: Pick<FaultContext, "cluster" | "targets">): string {
  const node = (index: number) => {
    const spec = context.cluster.nodes[index].spec;
    return `${spec.name} (WORKERS=${spec.workers})`;
  };
  switch (name) {
    case "kill":
      return `kill -9 ${node(context.targets.kill)}, restart`;
    case "stop":
      return `SIGSTOP ${node(context.targets.stop)}, SIGCONT`;
    case "redis":
      return "Redis killed, restarted empty";
    case "drain":
      return `SIGTERM ${node(context.targets.drain)} (drain), restart`;
    case "pubsub":
      return "CLIENT KILL TYPE pubsub";
  }
}

export async function applyFault(name: FaultName, context: FaultContext): Promise<FaultRecord> {
  const record: FaultRecord = { name, label: faultLabel(name, context), at: Date.now(), steps: [] };
  context.faults.push(record);
  await RUN[name](context, record);
  return record;
}
