/**
 * What answering a heartbeat costs a server: N idle sockets join one topic, then for a hold of
 * S seconds each sends a phoenix heartbeat every second (or every --heartbeat-s) and nothing else happens. The server's
 * CPU time over the hold (its threads' run time, ns) divided by the heartbeat replies the client
 * received in it. The server's idle work over the hold (timers) is counted in, and is small.
 */
import { CLIENT_CORE, SERVER_CORE } from "./measure.js";
import { runNativeClient } from "./native-client.js";
import { startServer } from "./server-process.js";
import { BENCH_JOIN_PAYLOAD, type Target } from "./targets.js";
import { processCpuNanos } from "./thread-cpu.js";

export interface HeartbeatCostOptions {
  sockets: number;
  holdSeconds: number;
  /** Seconds between a socket's heartbeats; 0: none, to measure what the server spends idle. */
  heartbeatSeconds: number;
  /** Server and client on different cores (taskset). */
  pin: boolean;
}

export interface HeartbeatCostRun {
  target: string;
  joined: number;
  failures: number;
  /** heartbeat replies received during the hold */
  heartbeats: number;
  serverCpuSeconds: number;
  /** the same per second of the hold: with no heartbeats, what the server spends idle */
  serverCpuMsPerSecond: number;
  /** server CPU µs per heartbeat answered */
  microsPerHeartbeat: number;
}

export async function measureHeartbeatCost(target: Target, options: HeartbeatCostOptions): Promise<HeartbeatCostRun> {
  const server = await startServer(target, options.pin ? (target.serverCpus ?? SERVER_CORE) : undefined);
  const at = new Map<string, { cpuNanos: number; replies: number }>();
  try {
    const report = await runNativeClient(
      {
        joinPayload: BENCH_JOIN_PAYLOAD,
        sockets: options.sockets,
        topics: 1,
        inflight: [],
        holdSeconds: options.holdSeconds,
        heartbeatSeconds: options.heartbeatSeconds,
        settleSeconds: 1,
        port: server.port,
        path: target.path,
        protocol: target.protocol,
        core: options.pin ? CLIENT_CORE : undefined,
      },
      (phase, replies) => {
        if (phase === "hold" || phase === "held") at.set(phase, { cpuNanos: processCpuNanos(server.pid), replies: replies ?? 0 });
      },
    );
    const start = at.get("hold");
    const end = at.get("held");
    if (!start || !end) throw new Error("the hold was not sampled");
    const heartbeats = end.replies - start.replies;
    const serverCpuSeconds = (end.cpuNanos - start.cpuNanos) / 1e9;
    return {
      target: target.name,
      joined: report.join.joined_sockets,
      failures: report.connect.failed + report.join.errors + report.closed_by_server + report.protocol_errors,
      heartbeats,
      serverCpuSeconds,
      serverCpuMsPerSecond: (serverCpuSeconds * 1000) / options.holdSeconds,
      microsPerHeartbeat: heartbeats > 0 ? (serverCpuSeconds * 1e6) / heartbeats : 0,
    };
  } catch (err) {
    throw new Error(`${target.name}: ${(err as Error).message}\nserver output:\n${server.output()}`);
  } finally {
    await server.stop();
  }
}
