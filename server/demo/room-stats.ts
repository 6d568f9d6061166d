import type { ChannelHandler } from "../channel/handler.js";
import { ok } from "../channel/results.js";
import type { TopicWorkerSpec } from "../topic-workers/topic-worker.js";

/** At most this many message times are kept per room (a minute's worth at 1,000 messages a second). */
const MAX_TIMES = 60_000;
const MINUTE_MS = 60_000;

/** `stats:<room>`: anyone may watch the live figures of a room. */
export const roomStatsChannel: ChannelHandler = {
  join: () => ok({}),
};

/**
 * The worker of `stats:<room>`, one in the whole cluster while someone watches: it follows
 * `room:<room>` and, once a second, broadcasts `stats {messages_per_minute, present}` — the
 * room's chat messages in the last minute and how many people are in its presence list.
 */
export const roomStatsWorker: TopicWorkerSpec = {
  linger: 10_000,
  start(topic, ctx) {
    const room = `room:${topic.slice("stats:".length)}`;
    const times: number[] = [];
    ctx.subscribe(room, (event) => {
      if (event !== "new_msg") return;
      times.push(Date.now());
      if (times.length > MAX_TIMES) times.shift();
    });
    const tick = setInterval(() => {
      const since = Date.now() - MINUTE_MS;
      while (times.length > 0 && times[0] < since) times.shift();
      void ctx.broadcast("stats", { messages_per_minute: times.length, present: ctx.presenceCount(room) });
    }, 1000);
    return { stop: () => clearInterval(tick) };
  },
};
