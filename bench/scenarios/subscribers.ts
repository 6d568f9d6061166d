/**
 * Subscriptions held: N sockets × T topics (default 10,000 × 100 = 1,000,000),
 * held with heartbeats, then one broadcast to every topic, which must reach
 * every subscriber (0 missing). Reports RSS per connection and per subscription.
 *   npm run bench -- subscribers --target cinder --sockets 10000 --topics 100 --hold 5
 */
import { printMeasurement } from "../lib/console-table.js";
import { parseFlags } from "../lib/flags.js";
import { measure } from "../lib/measure.js";
import { findTarget } from "../lib/targets.js";

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  for (const target of f.strings("target", ["cinder"]).map(findTarget)) {
    const topics = f.number("topics", 100);
    const m = await measure(
      target,
      {
        sockets: f.number("sockets", 10_000),
        topics,
        inflight: [f.number("inflight", 4)],
        messages: f.number("broadcasts", topics), // one per topic: topic = id % topics
        durationSeconds: f.number("timeout", 120),
        holdSeconds: f.number("hold", 2),
        settleSeconds: 1,
      },
      !f.has("no-pin"),
    );
    printMeasurement(m);
    const round = m.rounds[0];
    const deliveries = round?.deliveries ?? 0;
    console.log(
      `  ${m.subscriptions.toLocaleString("en")} subscriptions held; ${round?.broadcasts ?? 0} broadcasts, ` +
        `${deliveries.toLocaleString("en")} deliveries, missing ${round?.missing ?? "n/a"}`,
    );
    if (f.has("json")) console.log(JSON.stringify(m));
  }
}
