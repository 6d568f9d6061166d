/**
 * The app `npm run bench -- topic-workers` gives its nodes (APP): every `tw:*` topic has a topic
 * worker that broadcasts a tick (with its node and fencing number) every BENCH_TICK_MS ms (0:
 * never, the worker only holds its lease); `plain:*` is the same channel without a worker, for
 * the memory baseline.
 */
import { ok } from "../../server/channel/results.js";
import type { CinderServer } from "../../server/server.js";

export default function topicWorkerBenchApp(server: CinderServer): void {
  const tickMs = Number(process.env.BENCH_TICK_MS ?? "100");
  const node = server.config.nodeName;
  server.channel("tw:*", { join: () => ok({}) });
  server.channel("plain:*", { join: () => ok({}) });
  server.topicWorker("tw:*", {
    linger: 60_000,
    start(topic, ctx) {
      if (tickMs === 0) return;
      let n = 0;
      const timer = setInterval(() => void ctx.broadcast("tick", { node, fence: ctx.fence, n: n++ }), tickMs);
      return { stop: () => clearInterval(timer) };
    },
  });
}
