/**
 * Benchmark entry point: `npm run bench -- <scenario> [--flags]`.
 * Each scenario is bench/scenarios/<scenario>.ts exporting run(args).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

interface Scenario {
  run(args: string[]): Promise<void>;
}

const SCENARIOS = [
  "fanout",
  "subscribers",
  "one-topic",
  "connect",
  "connection-cost",
  "connect-join-cpu",
  "heartbeat-cost",
  "compare",
  "presence",
  "cluster",
  "liveness",
  "worker-bus",
  "client-size",
  "browser-presence",
  "history",
  "topic-workers",
  "fuzz",
  "decode-flood",
  "counters",
  "dashboard",
  "auth",
  "longpoll",
  "drain",
  "presence-storm",
  "presence-fetch",
  "presence-scale",
  "chaos",
  "failover",
  "hooks",
  "behind",
  "webhooks",
] as const;

const [name, ...args] = process.argv.slice(2);
if (!name || !(SCENARIOS as readonly string[]).includes(name)) {
  console.error(`usage: npm run bench -- <${SCENARIOS.join("|")}> [--flags]`);
  process.exit(2);
}
const file = join(fileURLToPath(new URL(".", import.meta.url)), "scenarios", `${name}.js`);
if (!existsSync(file)) {
  console.error(`scenario ${name} is not built (${file} missing)`);
  process.exit(2);
}
const scenario = (await import(pathToFileURL(file).href)) as Scenario;
await scenario.run(args);
