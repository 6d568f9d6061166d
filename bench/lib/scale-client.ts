/**
 * One process of the presence-scale client (bench/native/scale/presence-scale.c): its share of a
 * room's members, steered by lines on its stdin ("churn", "stop", "quit").
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

import type { Ack, CountSeen } from "./count-staleness.js";
import type { Endpoint } from "./socket-owner.js";
import { compileNative } from "./native-build.js";
import { repoRoot } from "./repo-root.js";

export interface ScaleClientOptions {
  port: number;
  topic: string;
  /** members joined at the start (each a socket), samples included */
  members: number;
  /** sockets connected but not joined, for the churn's joins */
  spare: number;
  /** the first member key (u<key>): keys of different processes must not meet */
  firstKey: number;
  /** first source address; one more per `perSource` sockets */
  source: string;
  perSource: number;
  /** joins a second at the start */
  joinRate: number;
  /** joins + leaves a second while churning */
  churnRate: number;
  samples: number;
  mode: "count" | "list";
  eventsFile: string;
  timeoutSeconds: number;
  /** taskset core; undefined = not pinned */
  core?: number;
}

export interface ScaleClientReport {
  sockets: number;
  connected: number;
  joinReplies: number;
  joinErrors: number;
  /** joins whose socket closed before their reply */
  joinsLost: number;
  leaveReplies: number;
  closed: number;
  /** the churn's turns (a join with no spare socket, or a leave with no member to leave, is a turn sent nothing) */
  changesSent: number;
  /** every join and leave sent, the fill's joins included */
  joinsSent: number;
  leavesSent: number;
  skippedJoins: number;
  bytesIn: number;
  /** bytes received from "churn" until "quit" */
  bytesInWindow: number;
  counts: number;
}

export interface ScaleClientEvents {
  acks: Ack[];
  /** each join (+1) and leave (−1) when it was sent */
  sent: Ack[];
  /** each join answered without effect (refused, or its socket closed first) */
  voided: Ack[];
  /** `client` is "<process>:<socket>" */
  counts: CountSeen[];
}

export interface ScaleClient {
  readonly pid: number;
  /** resolves once every member has its join reply; then the sample sockets' addresses */
  readonly joined: Promise<Endpoint[]>;
  command(line: "churn" | "stop" | "quit"): void;
  /** after "quit": the report */
  readonly done: Promise<ScaleClientReport>;
  kill(): void;
}

function binary(): string {
  const root = repoRoot();
  const native = join(root, "bench", "native");
  const sources = [join(native, "scale", "presence-scale.c"), join(native, "wsframe.c"), join(native, "wsframe.h"), join(native, "byte-buffer.c"), join(native, "byte-buffer.h")];
  return compileNative("presence-scale", sources, "presence-scale client");
}

export function startScaleClient(o: ScaleClientOptions): ScaleClient {
  const args = [
    ...["--port", String(o.port), "--topic", o.topic, "--members", String(o.members), "--spare", String(o.spare)],
    ...["--first-key", String(o.firstKey), "--source", o.source, "--per-source", String(o.perSource)],
    ...["--join-rate", String(o.joinRate), "--churn-rate", String(o.churnRate), "--samples", String(o.samples)],
    ...["--mode", o.mode, "--events", o.eventsFile, "--timeout-s", String(o.timeoutSeconds)],
  ];
  const path = binary();
  const child: ChildProcessWithoutNullStreams =
    o.core === undefined ? spawn(path, args) : spawn("taskset", ["-c", String(o.core), path, ...args]);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  const samples: Endpoint[] = [];
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const joined = new Promise<Endpoint[]>((resolve, reject) => {
    createInterface({ input: child.stderr }).on("line", (line) => {
      stderr = (stderr + line + "\n").slice(-4000);
      const sample = /^sample (\d+) (\S+) (\d+)$/.exec(line);
      if (sample) samples[Number(sample[1])] = { ip: sample[2], port: Number(sample[3]) };
      if (line === "phase samples") resolve(samples);
    });
    void exited.then((code) => reject(new Error(`presence-scale client exited with ${code} before its members joined: ${stderr}`)));
  });
  joined.catch(() => {});
  const done = exited.then((code) => {
    if (code !== 0) throw new Error(`presence-scale client exited with ${code}: ${stderr}`);
    return JSON.parse(stdout) as ScaleClientReport;
  });
  done.catch(() => {});
  return {
    pid: child.pid ?? -1,
    joined,
    command: (line) => void child.stdin.write(`${line}\n`),
    done,
    kill: () => void child.kill("SIGKILL"),
  };
}

/** The changes and counts a client wrote (`process` names its sample clients apart from others'). */
export function readScaleEvents(file: string, process: number): ScaleClientEvents {
  const acks: Ack[] = [];
  const sent: Ack[] = [];
  const voided: Ack[] = [];
  const counts: CountSeen[] = [];
  const change = (f: string[]): Ack => ({ t: Number(f[1]) / 1e6, delta: Number(f[2]) as 1 | -1 });
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[0] === "a") acks.push(change(f));
    else if (f[0] === "p") sent.push(change(f));
    else if (f[0] === "e") voided.push(change(f));
    else if (f[0] === "s") counts.push({ client: `${process}:${f[1]}`, t: Number(f[2]) / 1e6, keys: Number(f[3]) });
  }
  return { acks, sent, voided, counts };
}
