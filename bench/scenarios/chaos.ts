/**
 * Chaos: an operator's bad day against the demo app, counting every message lost.
 *   npm run bench -- chaos [--clients 300] [--rooms 10] [--rate 200] [--workers 1,1,2]
 *     [--faults kill,stop,redis,drain,pubsub] [--spacing-s 25] [--restart-after-s 5] [--stop-s 8]
 *     [--redis-down-s 1] [--settle-ms 1000] [--examples 3] [--json]
 *
 * One redis-server and one node per `--workers` entry (`node dist/server/cli.js`, the demo app,
 * REDIS_URL set, default settings), each on its own loopback port; `--clients` official
 * phoenix.js clients over `ws`, client i on node i mod nodes first, each in room `room:chaos<i mod
 * rooms>` (history size 200, presence on) and in its `stats:` topic, recovering with README's
 * phoenix.js recipe (bench/lib/chaos/recovery-recipe.ts). When a connection ends, phoenix.js
 * reconnects, and each attempt goes to the next node of the list (rotating-transport.ts).
 * `--rate` pushes a second come from clients picked at random among those joined, each body a
 * unique id. The faults run in the given order, `--spacing-s` apart from the start of the
 * traffic: `kill` = kill -9 of the first node, started again `--restart-after-s` later; `stop` =
 * SIGSTOP of the second node for `--stop-s`; `redis` = Redis killed, started again empty after
 * `--redis-down-s`; `drain` = SIGTERM of the first node with several workers (it drains and
 * exits), started again; `pubsub` = CLIENT KILL TYPE pubsub. Then the traffic stops, and once a
 * last message per room has reached every client, the accounting (bench/lib/chaos/accounting.ts,
 * and bench/README.md) prints the losses per fault window. Every process is killed at the end,
 * on failure and on Ctrl-C; a watchdog ends a run that overruns its schedule by 3 minutes.
 */
import { type FaultName, FAULT_NAMES } from "../lib/chaos/faults.js";
import { formatChaos } from "../lib/chaos/chaos-report.js";
import { runChaos } from "../lib/chaos/chaos-run.js";
import { timedPacing } from "../lib/chaos/timed-pacing.js";
import { exitOnSignals } from "../lib/chaos/tracked-processes.js";
import { parseFlags } from "../lib/flags.js";

const NODE_NAMES = "abcdefghij";

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const workers = f.numbers("workers", [1, 1, 2]);
  if (workers.length < 2 || workers.length > NODE_NAMES.length) throw new Error(`--workers needs 2 to ${NODE_NAMES.length} nodes`);
  const faults = f.strings("faults", [...FAULT_NAMES]);
  for (const name of faults) if (!(FAULT_NAMES as readonly string[]).includes(name)) throw new Error(`unknown fault ${name} (${FAULT_NAMES.join(", ")})`);
  const timings = {
    spacingMs: f.number("spacing-s", 25) * 1000,
    restartAfterMs: f.number("restart-after-s", 5) * 1000,
    stopMs: f.number("stop-s", 8) * 1000,
    redisDownMs: f.number("redis-down-s", 1) * 1000,
  };
  const several = workers.findIndex((w) => w > 1);
  const options = {
    nodes: workers.map((w, i) => ({ name: NODE_NAMES[i], workers: w })),
    clients: f.number("clients", 300),
    rooms: f.number("rooms", 10),
    rate: f.number("rate", 200),
    faults: faults as FaultName[],
    targets: { kill: 0, stop: 1, drain: several >= 0 ? several : workers.length - 1 },
    settleMs: f.number("settle-ms", 1000),
    examples: f.number("examples", 3),
  };
  exitOnSignals();
  const scheduleMs = (faults.length + 1) * timings.spacingMs;
  const watchdog = setTimeout(() => {
    console.error("chaos: the run overran its schedule by 3 minutes; stopping it");
    process.exit(1);
  }, scheduleMs + 180_000);
  watchdog.unref();
  const began = Date.now();
  const progress = (line: string) => console.log(`[${((Date.now() - began) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  progress(
    `chaos: ${options.nodes.map((n) => `${n.name} (WORKERS=${n.workers})`).join(", ")}; ${options.clients} phoenix.js clients in ${options.rooms} rooms; ` +
      `${options.rate} pushes/s; faults ${faults.join(", ")} every ${timings.spacingMs / 1000} s (about ${Math.round(scheduleMs / 1000)} s of traffic)`,
  );
  const result = await runChaos({ ...options, progress }, timedPacing(timings));
  clearTimeout(watchdog);
  const faultsOut = result.faults.map(({ label, steps, ghostSeconds }) => ({ label, steps, ghostSeconds }));
  console.log(f.has("json") ? JSON.stringify({ windows: result.windows, total: result.total, faults: faultsOut, load: result.load, logDir: result.logDir }) : formatChaos(result));
}
