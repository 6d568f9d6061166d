import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { LIVENESS_DEFAULTS, NodeLiveness, type LiveNode, type NodeLivenessOptions } from "../../server/redis/liveness.js";
import type { RedisConnections } from "../../server/redis/redis-connections.js";
import { perFile } from "../support/opened.js";
import type { RedisServer } from "../support/redis-server.js";
import { waitFor } from "../support/wait.js";
import { isDown, replicaOf, testConnections, waitConnected } from "./support.js";

/** Fast timings so a crash shows within a second; the stall tests use the defaults. */
const FAST = { ttlMs: 600, refreshMs: 200, pollMs: 100 };

interface TestNode {
  name: string;
  connections: RedisConnections;
  liveness: NodeLiveness;
  downs: LiveNode[];
  ups: LiveNode[];
  revived: number;
  /** Polls of the other nodes' keys this node has started (each begins with SMEMBERS cinder:nodes). */
  polls: number;
}

let redis: RedisServer;
let outside: Redis;
let nodes: TestNode[] = [];
let processes: LivenessProcess[] = [];

const opened = perFile();

beforeAll(async () => {
  redis = await opened.redis();
  outside = opened.observer(redis);
});

afterEach(async () => {
  if (!redis.running) await redis.restart();
  for (const child of processes) await child.stop();
  for (const node of nodes) {
    await node.liveness.stop();
    await node.connections.close();
  }
  nodes = [];
  processes = [];
  // No key or member of a node of this test may be seen by the next one.
  await outside.flushall();
});

async function startNode(name: string, replicas: readonly string[] | (() => readonly string[]), timings: Partial<NodeLivenessOptions> = FAST): Promise<TestNode> {
  const connections = testConnections(redis, name);
  await waitConnected(connections, name);
  const liveness = new NodeLiveness({ connections, nodeName: name, replicas: typeof replicas === "function" ? replicas : () => replicas, ...timings });
  const node: TestNode = { name, connections, liveness, downs: [], ups: [], revived: 0, polls: 0 };
  liveness.onNodeDown((n) => node.downs.push(n));
  liveness.onNodeUp((n) => node.ups.push(n));
  liveness.onRevived(() => node.revived++);
  // Counts the polls as they reach Redis: the observable moment "this node has looked again".
  const publisher = connections.publisher;
  const smembers = publisher.smembers.bind(publisher) as (key: string) => Promise<string[]>;
  (publisher as unknown as { smembers: (key: string) => Promise<string[]> }).smembers = (key: string) => {
    node.polls++;
    return smembers(key);
  };
  liveness.start();
  nodes.push(node);
  return node;
}

/** Waits until `node` has started `count` more polls; the one before the last has then finished (polls never overlap). */
async function waitForPolls(node: TestNode, count: number, what: string, timeoutMs = 5000): Promise<void> {
  const target = node.polls + count;
  await waitFor(() => node.polls >= target, `${node.name} to poll ${count} more times (${what})`, timeoutMs);
}

/** Like kill -9 as far as Redis can tell: the node stops refreshing and never says goodbye. */
function crash(node: TestNode): void {
  node.connections.publisher.disconnect();
  node.connections.subscriber.disconnect();
}

type ChildEvent = { event: "refreshed"; previous: string | null } | { event: "revived" } | { event: "stopped" };

const CHILD_SCRIPT = fileURLToPath(new URL("./liveness-node.mjs", import.meta.url));

/** A node's liveness beacon in its own process (liveness-node.mjs, on the built code), with the default timings. */
class LivenessProcess {
  readonly events: ChildEvent[] = [];
  private output = "";
  private exited = false;
  private stopped = false;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let partial = "";
    child.stdout!.on("data", (data: Buffer) => {
      partial += data.toString();
      const lines = partial.split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        this.output += `${line}\n`;
        this.events.push(JSON.parse(line) as ChildEvent);
      }
    });
    child.stderr!.on("data", (data: Buffer) => (this.output += data.toString()));
    child.on("exit", () => (this.exited = true));
  }

  static async start(name: string, replicas: string[]): Promise<LivenessProcess> {
    const child = spawn(process.execPath, [CHILD_SCRIPT], {
      env: { ...process.env, REDIS_URL: redis.url, NODE_NAME: name, REPLICAS: JSON.stringify(replicas) },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const node = new LivenessProcess(name, child);
    processes.push(node);
    await waitFor(() => node.exited || node.count("refreshed") > 0, `${name} to write its key`, 10_000);
    if (node.exited) throw new Error(`${name} exited:\n${node.output}`);
    return node;
  }

  get key(): string {
    return `cinder:node:${this.name}`;
  }

  count(event: ChildEvent["event"]): number {
    return this.events.filter((e) => e.event === event).length;
  }

  /** Waits for the next `event` line after the `seen` first ones. */
  async next<E extends ChildEvent["event"]>(event: E, seen: number, timeoutMs = 5000): Promise<Extract<ChildEvent, { event: E }>> {
    await waitFor(() => this.count(event) > seen, `${this.name} to report ${event} #${seen + 1}`, timeoutMs).catch((error: Error) => {
      throw new Error(`${error.message}; its output:\n${this.output}`);
    });
    return this.events.filter((e) => e.event === event)[seen] as Extract<ChildEvent, { event: E }>;
  }

  /** SIGSTOP: the whole process stalls, as on a long GC pause, a swapped-out VM or a blocked event loop. */
  pause(): void {
    this.child.kill("SIGSTOP");
    this.stopped = true;
  }

  resume(): void {
    this.child.kill("SIGCONT");
    this.stopped = false;
  }

  /** Graceful: its key goes with it. */
  async stop(): Promise<void> {
    if (this.exited) return;
    if (this.stopped) this.resume();
    this.child.kill("SIGTERM");
    await waitFor(() => this.exited, `${this.name} to exit`, 5000).catch((error: Error) => {
      this.child.kill("SIGKILL");
      throw error;
    });
  }
}

/** Waits until the key's next refresh is due within `withinMs` (its remaining TTL is down to `dueAtTtl`). */
async function waitForNextRefreshWithin(key: string, dueAtTtl: number, withinMs: number): Promise<number> {
  return waitFor(async () => {
    const ttl = await outside.pttl(key);
    return ttl > 0 && ttl <= dueAtTtl + withinMs ? ttl : null;
  }, `${key} to be close to its refresh`);
}

/**
 * Stops `child` just before its next refresh is due, so the key ages refreshMs + the stall (the
 * worst case). A refresh that slips in between the last look and the SIGSTOP is seen (the TTL
 * went up again) and the attempt repeated. Resolves with the key's remaining TTL once stopped.
 */
async function pauseJustBeforeRefresh(child: LivenessProcess): Promise<{ ttl: number }> {
  const { ttlMs, refreshMs } = LIVENESS_DEFAULTS;
  for (let attempt = 1; ; attempt++) {
    await waitForNextRefreshWithin(child.key, ttlMs - refreshMs, 30);
    child.pause();
    const ttl = await outside.pttl(child.key);
    if (ttl > 0 && ttl <= ttlMs - refreshMs + 50) return { ttl };
    child.resume();
    if (attempt === 5) throw new Error(`could not stop ${child.name} before its refresh (pttl ${ttl} after SIGSTOP)`);
  }
}

describe("NodeLiveness", () => {
  it("reports a crashed node down once its key expires, and up again when it comes back", async () => {
    const observer = await startNode("observer", [replicaOf("observer")]);
    const victim = await startNode("victim", [replicaOf("victim")]);
    await waitFor(() => observer.ups.length === 1, "the observer to see the victim");
    expect(observer.ups).toEqual([{ name: "victim", replicas: [replicaOf("victim")] }]);

    const crashedAt = Date.now();
    crash(victim);
    const ttlAtCrash = await outside.pttl("cinder:node:victim");
    // Expected: within ttl + one poll of the last refresh; the deadline leaves room for a busy machine.
    await waitFor(() => observer.downs.length === 1, "the crash to be reported", 3 * (FAST.ttlMs + FAST.pollMs));
    expect(observer.downs).toEqual([{ name: "victim", replicas: [replicaOf("victim")] }]);
    // Not before the key had expired (about ttl − refresh after the crash at the earliest).
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(ttlAtCrash);
    expect(ttlAtCrash).toBeGreaterThan(0);
    expect(observer.liveness.liveNodes()).toEqual([]);

    // The same process resuming after a stall: same name, same replicas.
    const resumed = await startNode("victim", [replicaOf("victim")]);
    await waitFor(() => observer.ups.length === 2, "the node to be reported up again");
    expect(observer.ups[1]).toEqual({ name: "victim", replicas: [replicaOf("victim")] });
    expect(resumed.downs).toEqual([]);
  });

  it("reports a restart with new replicas as the old ones down and the new ones up", async () => {
    const observer = await startNode("observer", [replicaOf("observer")]);
    const first = await startNode("worker", [replicaOf("worker", "1")]);
    await waitFor(() => observer.ups.length === 1, "the first incarnation");
    crash(first);
    await startNode("worker", [replicaOf("worker", "2")]);
    await waitFor(() => observer.ups.length === 2, "the second incarnation");
    expect(observer.downs).toEqual([{ name: "worker", replicas: [replicaOf("worker", "1")] }]);
    expect(observer.ups[1]).toEqual({ name: "worker", replicas: [replicaOf("worker", "2")] });
  });

  it("reports only the replaced replicas of a multi-worker node (a worker restarted), the others stay up", async () => {
    const observer = await startNode("observer", [replicaOf("observer")]);
    const w0 = "multi/w0#1";
    let replicas = [w0, "multi/w1#1"];
    await startNode("multi", () => replicas);
    await waitFor(() => observer.ups.length === 1, "the node with its two workers");
    expect(observer.ups[0]).toEqual({ name: "multi", replicas: [w0, "multi/w1#1"] });

    // Worker 1 crashed and came back with a new incarnation; the node's key follows at its next refresh.
    replicas = [w0, "multi/w1#2"];
    await waitFor(() => observer.ups.length === 2, "the new worker");
    expect(observer.downs).toEqual([{ name: "multi", replicas: ["multi/w1#1"] }]);
    expect(observer.ups[1]).toEqual({ name: "multi", replicas: ["multi/w1#2"] });
    expect(observer.liveness.liveNodes()).toEqual([{ name: "multi", replicas: [w0, "multi/w1#2"] }]);
  });

  it("lists the live nodes as soon as its Redis connection is ready, when started before it was", async () => {
    await startNode("peer", [replicaOf("peer")]);
    await waitFor(async () => (await outside.exists("cinder:node:peer")) === 1, "the peer's liveness key");
    // Started while still connecting; the next poll is a long period away, so only the
    // connection's readiness can bring the first read of the keys.
    const connections = testConnections(redis, "late");
    const liveness = new NodeLiveness({ connections, nodeName: "late", replicas: () => [replicaOf("late")], ...FAST, pollMs: 600_000 });
    const late: TestNode = { name: "late", connections, liveness, downs: [], ups: [], revived: 0, polls: 0 };
    nodes.push(late);
    let listed = false;
    liveness.onListed(() => (listed = true));
    liveness.onNodeUp((n) => late.ups.push(n));
    expect(connections.isReady("publisher")).toBe(false);
    liveness.start();
    await waitFor(() => listed, "the first read of the keys once connected");
    expect(late.ups).toEqual([{ name: "peer", replicas: [replicaOf("peer")] }]);
  });

  it("reports a graceful stop on the next poll, without waiting for the TTL", async () => {
    const slowTtl = { ttlMs: 10_000, refreshMs: 200, pollMs: 100 };
    const observer = await startNode("observer", [replicaOf("observer")], slowTtl);
    const leaving = await startNode("leaving", [replicaOf("leaving")], slowTtl);
    await waitFor(() => observer.ups.length === 1, "the observer to see the node");
    await leaving.liveness.stop();
    await waitFor(() => observer.downs.length === 1, "the graceful stop to be seen", 2000);
    expect(observer.downs).toEqual([{ name: "leaving", replicas: [replicaOf("leaving")] }]);
  });

  it("declares nobody down when Redis restarts empty", async () => {
    const a = await startNode("a", [replicaOf("a")]);
    const b = await startNode("b", [replicaOf("b")]);
    await waitFor(() => a.ups.length === 1 && b.ups.length === 1, "both to see each other");
    // A restarted Redis has none of the keys, however short the outage.
    await redis.stop();
    await waitFor(() => isDown(a.connections) && isDown(b.connections), "both to notice the outage");
    await redis.restart();
    await waitConnected(a.connections, "a");
    await waitConnected(b.connections, "b");
    // Each node writes its key again as soon as it is back, and until then the other must not
    // take the missing key for a death. Once both keys are there, each node has to look once
    // more: a poll that started before may still be judging what it read.
    await waitFor(async () => (await outside.exists("cinder:node:a", "cinder:node:b")) === 2, "both keys to be written again");
    await Promise.all([waitForPolls(a, 2, "after both keys are back"), waitForPolls(b, 2, "after both keys are back")]);
    expect([...a.downs, ...b.downs]).toEqual([]);
    expect(a.liveness.liveNodes()).toEqual([{ name: "b", replicas: [replicaOf("b")] }]);
    expect(b.liveness.liveNodes()).toEqual([{ name: "a", replicas: [replicaOf("a")] }]);
    expect(a.revived + b.revived).toBe(0);
  });

  describe("a node stalled in another process (SIGSTOP), default timings", () => {
    const { ttlMs, refreshMs } = LIVENESS_DEFAULTS;
    const STALL_MS = 1500;

    it("does not report a node down while it is stalled for 1.5 s just before its refresh", async () => {
      const observer = await startNode("observer", [replicaOf("observer")], {});
      const stalled = await LivenessProcess.start("stalled", [replicaOf("stalled")]);
      await waitFor(() => observer.ups.length === 1, "the observer to see the stalled node");
      expect(observer.ups).toEqual([{ name: "stalled", replicas: [replicaOf("stalled")] }]);

      // Worst case: the stall starts just before a refresh is due, so the key ages refreshMs + stall.
      const { ttl } = await pauseJustBeforeRefresh(stalled);
      expect(ttl).toBeLessThanOrEqual(ttlMs - refreshMs + 50);
      const refreshes = stalled.count("refreshed");
      const pollsBefore = observer.polls;
      // The stall under test: stopped until the key has aged STALL_MS past where the stop found it.
      await waitFor(async () => (await outside.pttl(stalled.key)) <= ttl - STALL_MS, `the key to age ${STALL_MS} ms`);
      stalled.resume();
      // The observer kept polling while the node was stopped.
      expect(observer.polls).toBeGreaterThan(pollsBefore);

      const refresh = await stalled.next("refreshed", refreshes);
      // Whatever the observer read during and right after the stall, it has judged it by now.
      await waitForPolls(observer, 2, "after the stalled node resumed");
      expect(observer.downs).toEqual([]);
      expect(observer.ups).toHaveLength(1);
      // Its first refresh after the stall replaced the key it had written before: it never lapsed.
      expect(refresh.previous).toBe(JSON.stringify([replicaOf("stalled")]));
      expect(stalled.count("revived")).toBe(0);
    });

    it("gives its key a longer life once its refreshes came late, so a like stall does not get it reported down again", async () => {
      const observer = await startNode("observer", [replicaOf("observer")], {});
      const stalled = await LivenessProcess.start("stalls-often", [replicaOf("stalls-often")]);
      await waitFor(() => observer.ups.length === 1, "the observer to see the node");

      // A first stall, within what the default lifetime tolerates: its next refresh comes 1 + 1.5 s after the one before.
      const { ttl } = await pauseJustBeforeRefresh(stalled);
      let refreshes = stalled.count("refreshed");
      await waitFor(async () => (await outside.pttl(stalled.key)) <= ttl - STALL_MS, `the key to age ${STALL_MS} ms`);
      stalled.resume();
      await stalled.next("refreshed", refreshes);
      // That refresh wrote the key to live 3 × that gap (2.5 s): longer than the default.
      const stretched = await outside.pttl(stalled.key);
      expect(stretched).toBeGreaterThan(ttlMs);

      // A second stall, from right after a refresh until the key is 3 s old: a key written for the default 3 s would lapse.
      refreshes = stalled.count("refreshed");
      await stalled.next("refreshed", refreshes);
      stalled.pause();
      const ttlAtStop = await outside.pttl(stalled.key);
      expect(ttlAtStop).toBeGreaterThan(ttlMs);
      await waitFor(async () => (await outside.pttl(stalled.key)) <= ttlAtStop - ttlMs, "the key to age 3 s in the stall");
      refreshes = stalled.count("refreshed");
      stalled.resume();
      const refresh = await stalled.next("refreshed", refreshes);
      await waitForPolls(observer, 2, "after the node resumed");
      // Its key never lapsed, and nobody took it for dead.
      expect(refresh.previous).toBe(JSON.stringify([replicaOf("stalls-often")]));
      expect(observer.downs).toEqual([]);
      expect(stalled.count("revived")).toBe(0);
    });

    it("reports a node stalled for longer than the TTL down, and up again once it resumes", async () => {
      const observer = await startNode("observer", [replicaOf("observer")], {});
      const stalled = await LivenessProcess.start("stalled-long", [replicaOf("stalled-long")]);
      await waitFor(() => observer.ups.length === 1, "the observer to see the stalled node");

      stalled.pause();
      const stoppedAt = Date.now();
      const ttlAtStop = await outside.pttl(stalled.key);
      expect(ttlAtStop).toBeGreaterThan(0);
      // Stopped until the observer reports it down: its key lapses ttlMs after its last refresh.
      await waitFor(() => observer.downs.length === 1, "the stalled node to be reported down", 3 * ttlMs);
      const stalledFor = Date.now() - stoppedAt;
      expect(observer.downs).toEqual([{ name: "stalled-long", replicas: [replicaOf("stalled-long")] }]);
      // Not before its key had really expired.
      expect(stalledFor).toBeGreaterThanOrEqual(ttlAtStop);
      expect(await outside.exists(stalled.key)).toBe(0);

      const refreshes = stalled.count("refreshed");
      stalled.resume();
      const refresh = await stalled.next("refreshed", refreshes);
      expect(refresh.previous).toBeNull();
      await stalled.next("revived", 0);
      await waitFor(() => observer.ups.length === 2, "the resumed node to be reported up again");
      expect(observer.ups[1]).toEqual({ name: "stalled-long", replicas: [replicaOf("stalled-long")] });
      expect(observer.downs).toHaveLength(1);
    });
  });
});
