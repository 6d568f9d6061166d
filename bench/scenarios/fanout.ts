/**
 * Fan-out: N sockets each join T topics; one publisher broadcasts with K in
 * flight; reports deliveries/s and broadcast-complete latency.
 *   npm run bench -- fanout --target cinder --sockets 10000 --inflight 1,32 --duration 5 --runs 3
 */
import { printMeasurement } from "../lib/console-table.js";
import { parseFlags } from "../lib/flags.js";
import { measure } from "../lib/measure.js";
import { findTarget } from "../lib/targets.js";

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const targets = f.strings("target", ["cinder"]).map(findTarget);
  const runs = f.number("runs", 1);
  for (const target of targets) {
    for (let i = 0; i < runs; i++) {
      const m = await measure(
        target,
        {
          sockets: f.number("sockets", 1000),
          topics: f.number("topics", 1),
          topicSpace: f.has("topic-space") ? f.number("topic-space", 1) : undefined,
          inflight: f.numbers("inflight", [1, 32]),
          warmupSeconds: f.number("warmup", 1),
          durationSeconds: f.number("duration", 5),
          bodySize: f.number("body-size", 100),
        },
        !f.has("no-pin"),
      );
      printMeasurement(m);
      if (f.has("json")) console.log(JSON.stringify(m));
    }
  }
}
