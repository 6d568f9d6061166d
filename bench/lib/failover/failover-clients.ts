/**
 * One process of the failover benchmark's clients (bench/native/failover/failover.c): its share
 * of the clients, steered by lines on its stdin (phase changes, each room's last offset, quit),
 * its counters read from "status {…}" lines on its stderr and its checks from one JSON report on
 * its stdout.
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { spawnTracked } from "../chaos/tracked-processes.js";
import { compileNative } from "../native-build.js";
import { repoRoot } from "../repo-root.js";
import type { ClientsFinal, ClientsStatus, Phase, RoomTop } from "./failover-types.js";

export interface FailoverClientsOptions {
  ports: number[];
  /** Client indices this process holds: client i starts on node i mod nodes, in room i mod rooms. */
  from: number;
  to: number;
  rooms: number;
  /** The first source address of its sockets (127.0.0.x), one more each `perSource` clients: ephemeral ports of their own. */
  source: string;
  perSource: number;
  /** taskset core */
  core: number;
}

export interface FailoverClients {
  /** The latest counters (undefined until the first status line). */
  status(): ClientsStatus | undefined;
  phase(phase: Phase): void;
  /** Hands over each room's last offset: the report comes once every client has it, or after `timeoutMs`. */
  finish(tops: Record<string, RoomTop>, timeoutMs: number): Promise<ClientsFinal>;
  readonly child: ChildProcess;
}

export function failoverClientBinary(): string {
  const native = join(repoRoot(), "bench", "native");
  const sources = [join(native, "failover", "failover.c"), join(native, "wsframe.c"), join(native, "wsframe.h"), join(native, "byte-buffer.c"), join(native, "byte-buffer.h")];
  return compileNative("failover", sources, "failover client");
}

export function startFailoverClients(o: FailoverClientsOptions): FailoverClients {
  const args = ["--ports", o.ports.join(","), "--from", String(o.from), "--to", String(o.to), "--rooms", String(o.rooms), "--source", o.source, "--per-source", String(o.perSource)];
  // taskset execs the client: it is the child, and dies with this process (PR_SET_PDEATHSIG).
  const child = spawnTracked("taskset", ["-c", String(o.core), failoverClientBinary(), ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let latest: ClientsStatus | undefined;
  let stdout = "";
  let stderrTail = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  createInterface({ input: child.stderr! }).on("line", (line) => {
    if (line.startsWith("status ")) latest = JSON.parse(line.slice(7)) as ClientsStatus;
    else {
      stderrTail = (stderrTail + line + "\n").slice(-4000);
      process.stderr.write(`failover client ${o.from}–${o.to}: ${line}\n`);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const write = (line: string) => {
    if (child.stdin?.writable) child.stdin.write(`${line}\n`);
  };
  return {
    status: () => latest,
    phase: (phase) => write(`phase ${phase}`),
    async finish(tops, timeoutMs) {
      for (const [topic, top] of Object.entries(tops)) write(`top ${topic.slice("room:fo".length)} ${top.o} ${top.e}`);
      write(`finish ${timeoutMs}`);
      const code = await exited;
      if (code !== 0) throw new Error(`failover client ${o.from}–${o.to} exited with ${code}: ${stderrTail}`);
      return JSON.parse(stdout) as ClientsFinal;
    },
    child,
  };
}
