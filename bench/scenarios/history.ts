/**
 * What channel history costs, on the demo app's `room:*` (history: size 200, ttlMs 300,000) against
 * the same chat without history on `bench:*`:
 *   1. fan-out deliveries/s and latency with history on vs off: one node without Redis, and
 *      two nodes via Redis (WORKERS=1 each);
 *   2. Redis commands and Redis CPU per broadcast, history on vs off (the two-node runs of 1);
 *   3. time for N clients to rejoin at once and be sent the messages they missed;
 *   4. memory per retained message: node RSS and heap, and Redis.
 * redis-server and the nodes on core 0; the load client (the native one for 1 and 2, this
 * process playing `ws` clients for 3 and 4) on core 1. Medians of --runs.
 *   npm run bench -- history --sockets 10000 --inflight 1,32 --duration 5 --runs 3
 *   npm run bench -- history --parts 3 --recover-clients 1000 --missed 300
 * Flags: --parts 1,2,3,4; --runs; --no-pin; for 1 and 2: --sockets, --inflight, --warmup,
 * --duration, --body-size; for 3: --recover-clients, --missed, --recover-timeout (s); for 4:
 * --fill-topics, --fill-messages.
 */
import { type FanoutRound, measureFanout, type RedisCost } from "../lib/history-fanout.js";
import { measureMemory, type MemoryResult } from "../lib/history-memory.js";
import { describePinning, type HistorySetup, ONE_NODE, ONE_NODE_REDIS, type Pinning, TWO_NODES } from "../lib/history-nodes.js";
import { measureRecovery, type RecoveryResult } from "../lib/history-recovery.js";
import { printFanout, printMemory, printRecovery, printRedisCost } from "../lib/history-report.js";
import { type Flags, parseFlags } from "../lib/flags.js";
import { CLIENT_CORE, SERVER_CORE } from "../lib/measure.js";

interface Results {
  fanout: FanoutRound[];
  redis: RedisCost[];
  recovery: RecoveryResult[];
  memory: MemoryResult[];
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const parts = new Set(f.numbers("parts", [1, 2, 3, 4]));
  for (const p of parts) if (![1, 2, 3, 4].includes(p)) throw new Error(`--parts takes 1, 2, 3 and 4, got ${p}`);
  const runs = f.number("runs", 3);
  const pinning: Pinning = f.has("no-pin") ? {} : { server: SERVER_CORE, client: CLIENT_CORE };
  const results: Results = { fanout: [], redis: [], recovery: [], memory: [] };
  const started = Date.now();
  for (let i = 1; i <= runs; i++) {
    if (parts.has(1) || parts.has(2)) await fanoutRun(f, parts, pinning, results, `run ${i}/${runs}`);
    if (parts.has(3)) await recoveryRun(f, pinning, results, `run ${i}/${runs}`);
    if (parts.has(4)) await memoryRun(f, pinning, results, `run ${i}/${runs}`);
  }
  report(f, parts, results);
  console.log(`\n${describePinning(pinning)}`);
  console.log(`medians of ${runs} run(s); took ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** Progress on stderr, so that stdout is the report alone. */
function progress(what: string): void {
  process.stderr.write(`history: ${what}\n`);
}

/** Part 2 needs only the runs through Redis. On and off alternate, so drift hits both alike. */
async function fanoutRun(f: Flags, parts: Set<number>, pinning: Pinning, results: Results, label: string): Promise<void> {
  const setups: HistorySetup[] = parts.has(1) ? [ONE_NODE, TWO_NODES] : [TWO_NODES];
  const load = {
    sockets: f.number("sockets", 10_000),
    inflight: f.numbers("inflight", [1, 32]),
    warmupSeconds: f.number("warmup", 1),
    durationSeconds: f.number("duration", 5),
    bodySize: f.number("body-size", 100),
  };
  for (const setup of setups) {
    for (const history of [false, true]) {
      progress(`${label}: fan-out, ${setup.label}, history ${history ? "on" : "off"}`);
      const result = await measureFanout(setup, history, load, pinning);
      results.fanout.push(...result.rounds);
      if (result.redis) results.redis.push(result.redis);
    }
  }
}

async function recoveryRun(f: Flags, pinning: Pinning, results: Results, label: string): Promise<void> {
  const options = {
    clients: f.number("recover-clients", 1000),
    missed: f.number("missed", 300),
    timeoutMs: f.number("recover-timeout", 30) * 1000,
    bodySize: f.number("body-size", 100),
  };
  for (const setup of [ONE_NODE, TWO_NODES]) {
    progress(`${label}: recovery, ${setup.label}`);
    results.recovery.push(await measureRecovery(setup, options, pinning));
  }
}

async function memoryRun(f: Flags, pinning: Pinning, results: Results, label: string): Promise<void> {
  const options = { topics: f.number("fill-topics", 1000), messages: f.number("fill-messages", 200), bodySize: f.number("body-size", 100) };
  for (const setup of [ONE_NODE, ONE_NODE_REDIS]) {
    progress(`${label}: memory, ${setup.label}`);
    results.memory.push(await measureMemory(setup, options, pinning));
  }
}

function report(f: Flags, parts: Set<number>, results: Results): void {
  if (parts.has(1)) printFanout(results.fanout, f.number("sockets", 10_000));
  if (parts.has(2)) printRedisCost(results.redis, TWO_NODES.label);
  if (parts.has(3)) printRecovery(results.recovery);
  if (parts.has(4)) printMemory(results.memory);
}
