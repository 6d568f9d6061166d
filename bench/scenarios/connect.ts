/**
 * Connect + join rate: N sockets connect (256 in flight per client process),
 * then each joins T topics; no broadcasts.
 *   npm run bench -- connect --target cinder --sockets 19000 --topics 1
 */
import { fmtRate } from "../lib/format.js";
import { parseFlags } from "../lib/flags.js";
import { measure } from "../lib/measure.js";
import { findTarget } from "../lib/targets.js";

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  for (const target of f.strings("target", ["cinder"]).map(findTarget)) {
    for (let i = 0; i < f.number("runs", 1); i++) {
      const m = await measure(
        target,
        { sockets: f.number("sockets", 10_000), topics: f.number("topics", 1), inflight: [], settleSeconds: 0.5 },
        !f.has("no-pin"),
      );
      console.log(
        `${target.name}: ${m.sockets} sockets connected at ${fmtRate(m.connect_per_s)}/s, ` +
          `${m.subscriptions} subscriptions at ${fmtRate(m.subscriptions_per_s)}/s, failures ${JSON.stringify(m.failures)}`,
      );
      if (f.has("json")) console.log(JSON.stringify(m));
    }
  }
}
