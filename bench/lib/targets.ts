/**
 * The servers a benchmark can run against. All receive the same load client,
 * the same payload and the same core.
 */
import { join } from "node:path";

import { repoRoot } from "./repo-root.js";

export interface Target {
  name: string;
  label: string;
  protocol: "phoenix" | "engineio";
  /** WebSocket request target (path + query) */
  path: string;
  /** argv (after "node") and extra environment for a server listening on port */
  command(port: number): { args: string[]; env: Record<string, string> };
  /** CPU list for taskset when pinned; default: the server core alone. */
  serverCpus?: string;
}

const PHOENIX_PATH = "/socket/websocket?vsn=2.0.0&user=bench";

/** Benchmarks measure the server, not its per-client rate limits (one load client plays many users). */
export const UNLIMITED: Record<string, string> = { MAX_FRAMES_PER_SECOND: "0", MAX_JOINS_PER_SECOND: "0", MAX_PRESENCE_PER_SECOND: "0" };

/** The env of a benchmark node linked to Redis: the nodes of a cluster share their secretKeyBase (LongPoll sessions are signed with it). */
export const linkedTo = (redisUrl: string): Record<string, string> => ({ REDIS_URL: redisUrl, SECRET_KEY_BASE: "bench-cluster-secret-key-base-0123456789" });

function cinder(workers: number): Target {
  return {
    name: workers === 1 ? "cinder" : `cinder-w${workers}`,
    label: `Cinder (WORKERS=${workers})`,
    // Several workers need several cores: on a 2-core machine they share core 1 with the client.
    serverCpus: workers === 1 ? undefined : Array.from({ length: workers }, (_, i) => i).join(","),
    protocol: "phoenix",
    path: PHOENIX_PATH,
    command: (port) => ({
      args: [join(repoRoot(), "dist", "server", "cli.js"), "--port", String(port), "--host", "127.0.0.1"],
      env: { WORKERS: String(workers), LOG_LEVEL: "warn", ...UNLIMITED },
    }),
  };
}

function baseline(name: string, label: string, protocol: Target["protocol"], path: string): Target {
  return {
    name,
    label,
    protocol,
    path,
    command: (port) => ({
      args: [join(repoRoot(), "dist", "bench", "servers", "main.js"), name, "--port", String(port), "--host", "127.0.0.1"],
      env: {},
    }),
  };
}

export const TARGETS: readonly Target[] = [
  baseline("raw-uws", "raw uWS.js pub/sub", "phoenix", PHOENIX_PATH),
  baseline("socketio", "Socket.IO 4", "engineio", "/socket.io/?EIO=4&transport=websocket&user=bench"),
  cinder(1),
  // Pinned to cores 0 and 1: on a 2-core machine its second worker shares core 1 with the client.
  cinder(2),
];

export function findTarget(name: string): Target {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`unknown target ${name}; known: ${TARGETS.map((x) => x.name).join(", ")}`);
  return t;
}

/** Phoenix join params: presence off so fan-out is measured, not presence diffs. */
export const BENCH_JOIN_PAYLOAD = '{"user":"bench","presence":false}';

/** Cinder as another checkout's build serves it: DIR/dist/server/cli.js, the same settings as `cinder`. */
export function cinderFrom(checkout: string): Target {
  const cinder = findTarget("cinder");
  return {
    ...cinder,
    name: "cinder-before",
    label: `Cinder (${checkout})`,
    command: (port) => {
      const { args, env } = cinder.command(port);
      return { args: [join(checkout, "dist", "server", "cli.js"), ...args.slice(1)], env };
    },
  };
}
