import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./node-process.js";
import { waitFor } from "./wait.js";

const SERVER = "redis-server";
const CLI = "redis-cli";
const START_TIMEOUT_MS = 5000;
const CREATE_TIMEOUT_MS = 20_000;
const CONVERGE_TIMEOUT_MS = 15_000;

/** One master of the cluster: its client port, its cluster-bus port and its process. */
interface ClusterMember {
  port: number;
  busPort: number;
  child: ChildProcess;
  output: string;
  exited: Promise<void>;
  hasExited: boolean;
}

/** A master as CLUSTER NODES shows it, with the slot ranges it serves. */
export interface ClusterMaster {
  port: number;
  slots: Array<[number, number]>;
}

/**
 * A private Redis Cluster on loopback ports, for tests of Cinder's `redis-cluster://` mode:
 * `masters` masters without replicas, no persistence, files in a temporary directory.
 * `start()` returns once every node reports `cluster_state:ok` and knows every other node.
 * Always `stop()` it (in `afterAll`): it kills the servers and removes the directory; the
 * servers are also killed if the test process exits.
 *
 * Each node gets its own free cluster-bus port (`--cluster-port`) instead of the default
 * port + 10000, which may be taken or out of range for ports picked by the OS.
 */
export class RedisCluster {
  private stopped = false;

  private constructor(
    private readonly dir: string,
    private readonly members: ClusterMember[],
  ) {}

  static async start(options: { masters?: number } = {}): Promise<RedisCluster> {
    const count = options.masters ?? 3;
    if (count < 3) throw new Error("a Redis Cluster needs at least 3 masters");
    assertInstalled(SERVER);
    assertInstalled(CLI);
    const dir = await mkdtemp(join(tmpdir(), "cinder-redis-cluster-"));
    const cluster = new RedisCluster(dir, []);
    try {
      const ports = await distinctFreePorts(count * 2);
      for (let i = 0; i < count; i++) cluster.members.push(spawnMember(dir, ports[2 * i], ports[2 * i + 1]));
      await Promise.all(cluster.members.map((member) => waitForPing(member)));
      await cluster.create();
      await cluster.waitUntilConverged();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Seed list of every master, as `REDIS_URL` takes it. */
  get url(): string {
    return `redis-cluster://${this.ports.map((port) => `127.0.0.1:${port}`).join(",")}`;
  }

  /** Every server is up (false after `killAll()` until `restart()`). */
  get running(): boolean {
    return !this.stopped && this.members.every((member) => !member.hasExited);
  }

  get ports(): number[] {
    return this.members.map((member) => member.port);
  }

  /** Sends one command to the node on `port` and returns its reply (string, integer or array of those). */
  command(port: number, ...args: string[]): Promise<Reply> {
    return sendCommand(port, args);
  }

  /** The hash slot of a key or sharded channel (CLUSTER KEYSLOT). */
  async slotOf(key: string): Promise<number> {
    return Number(await this.command(this.ports[0], "CLUSTER", "KEYSLOT", key));
  }

  /** The masters and the slot ranges each serves, from CLUSTER NODES. */
  async masters(): Promise<ClusterMaster[]> {
    const text = String(await this.command(this.ports[0], "CLUSTER", "NODES"));
    return text
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => line.split(" "))
      .filter((fields) => fields[2].split(",").includes("master"))
      .map((fields) => ({
        port: Number(/:(\d+)@/.exec(fields[1])?.[1]),
        slots: fields.slice(8).filter((range) => /^\d/.test(range)).map((range) => {
          const [from, to = from] = range.split("-").map(Number);
          return [from, to] as [number, number];
        }),
      }));
  }

  /** The port of the master that serves `key` (or sharded channel `key`). */
  async masterOf(key: string): Promise<number> {
    const slot = await this.slotOf(key);
    const owner = (await this.masters()).find((master) => master.slots.some(([from, to]) => slot >= from && slot <= to));
    if (!owner) throw new Error(`no master serves slot ${slot} (of ${JSON.stringify(key)})`);
    return owner.port;
  }

  /** An outage of the whole cluster: kills every server (SIGKILL); `restart()` brings them back. */
  async killAll(): Promise<void> {
    for (const member of this.members) {
      killOnExit.delete(member.child);
      if (!member.hasExited) member.child.kill("SIGKILL");
    }
    await Promise.all(this.members.map((member) => member.exited));
  }

  /**
   * Starts every server again (killing it first if it still runs) on the same ports with its
   * saved cluster configuration (same node ids and slots, no data), and waits until the cluster
   * is ok again.
   */
  async restart(): Promise<void> {
    if (this.stopped) throw new Error("the Redis Cluster was stopped");
    await this.killAll();
    this.members.splice(0, this.members.length, ...this.members.map((member) => spawnMember(this.dir, member.port, member.busPort)));
    await Promise.all(this.members.map((member) => waitForPing(member)));
    await this.waitUntilConverged();
  }

  /** Kills every server (SIGKILL) and removes the temporary directory. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.killAll();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async create(): Promise<void> {
    const args = ["--cluster", "create", ...this.ports.map((port) => `127.0.0.1:${port}`), "--cluster-replicas", "0", "--cluster-yes"];
    await new Promise<void>((resolve, reject) => {
      execFile(CLI, args, { timeout: CREATE_TIMEOUT_MS }, (error, stdout, stderr) => {
        if (!error) return resolve();
        const how = error.killed ? `timed out after ${CREATE_TIMEOUT_MS} ms` : `failed (${error.message.split("\n")[0]})`;
        reject(new Error(`${CLI} ${args.join(" ")} ${how}:\n${stdout}${stderr}\n${this.serverOutput()}`));
      });
    });
  }

  /** Every node says `cluster_state:ok` and knows all the others (gossip has settled). */
  private async waitUntilConverged(): Promise<void> {
    let last: string[] = [];
    const states = () => last.map((info, i) => `${this.ports[i]}: ${/cluster_state:\w+/.exec(info)?.[0] ?? info}`).join("; ");
    await waitFor(
      async () => {
        last = await Promise.all(this.ports.map((port) => this.command(port, "CLUSTER", "INFO").then(String, (e: Error) => `error: ${e.message}`)));
        const ready = last.every(
          (info) => /^cluster_state:ok\r?$/m.test(info) && new RegExp(`^cluster_known_nodes:${this.members.length}\\r?$`, "m").test(info),
        );
        const dead = this.members.find((member) => member.hasExited);
        if (!ready && dead) throw new Error(`redis-server on port ${dead.port} exited:\n${dead.output}`);
        return ready;
      },
      () => `the Redis Cluster to reach cluster_state:ok (${states()})`,
      CONVERGE_TIMEOUT_MS,
    );
  }

  private serverOutput(): string {
    return this.members.map((member) => `--- redis-server :${member.port}\n${member.output}`).join("\n");
  }
}

function spawnMember(dir: string, port: number, busPort: number): ClusterMember {
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--cluster-enabled", "yes",
    "--cluster-port", String(busPort),
    "--cluster-config-file", join(dir, `nodes-${port}.conf`),
    "--save", "",
    "--appendonly", "no",
    "--dir", dir,
    "--daemonize", "no",
  ];
  const child = spawn(SERVER, args, { stdio: ["ignore", "pipe", "pipe"] });
  const member: ClusterMember = { port, busPort, child, output: "", exited: Promise.resolve(), hasExited: false };
  child.stdout?.on("data", (d) => (member.output += d));
  child.stderr?.on("data", (d) => (member.output += d));
  member.exited = new Promise((resolve) => {
    child.once("exit", () => {
      member.hasExited = true;
      resolve();
    });
    child.once("error", (error) => {
      member.output += `\n${error.message}`;
      member.hasExited = true;
      resolve();
    });
  });
  killOnExit.add(child);
  return member;
}

async function waitForPing(member: ClusterMember): Promise<void> {
  await waitFor(
    async () => {
      const reply = await sendCommand(member.port, ["PING"]).catch(() => undefined);
      if (reply !== "PONG" && member.hasExited) throw new Error(`redis-server on port ${member.port} exited:\n${member.output}`);
      return reply === "PONG";
    },
    () => `redis-server on port ${member.port} to answer PING:\n${member.output}`,
    START_TIMEOUT_MS,
  );
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

function assertInstalled(binary: string): void {
  const probe = spawnSync(binary, ["--version"], { stdio: "ignore" });
  if (probe.error || probe.status !== 0) {
    throw new Error(`${binary} is not on PATH; Redis Cluster tests need a real Redis 7: apt-get install -y redis-server`);
  }
}

export type Reply = string | number | null | Reply[];

/**
 * One command over a fresh TCP connection, with a minimal RESP2 reader, so this support code does not
 * depend on the client under test. Error replies reject.
 */
function sendCommand(port: number, args: string[], timeoutMs = 2000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let buffer = Buffer.alloc(0);
    const done = (error: Error | null, reply?: Reply) => {
      socket.destroy();
      if (error) reject(error);
      else resolve(reply as Reply);
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`no reply from 127.0.0.1:${port} to ${args.join(" ")} within ${timeoutMs} ms`)));
    socket.once("error", (error) => done(error));
    socket.once("connect", () => {
      socket.write(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join("")}`);
    });
    socket.on("data", (data) => {
      buffer = Buffer.concat([buffer, data]);
      let parsed: { value: Reply; end: number } | undefined;
      try {
        parsed = parseReply(buffer, 0);
      } catch (error) {
        done(error as Error);
        return;
      }
      if (parsed) done(null, parsed.value);
    });
  });
}

/** A complete reply starting at `at`, or undefined if more bytes are needed. */
function parseReply(buffer: Buffer, at: number): { value: Reply; end: number } | undefined {
  const lineEnd = buffer.indexOf("\r\n", at);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[at]);
  const line = buffer.toString("utf8", at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case "+":
      return { value: line, end: next };
    case "-":
      throw new Error(`Redis replied: ${line}`);
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString("utf8", next, next + length), end: next + length + 2 };
    }
    case "*": {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      const items: Reply[] = [];
      let end = next;
      for (let i = 0; i < length; i++) {
        const item = parseReply(buffer, end);
        if (!item) return undefined;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}`);
  }
}

const killOnExit = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of killOnExit) child.kill("SIGKILL");
});
