import type { CinderServer } from "../server.js";
import { countedRoomChannel, roomChannel } from "./room-channel.js";
import { roomStatsChannel, roomStatsWorker } from "./room-stats.js";

/**
 * The demo app `npm start` runs: the chat channel with history (the page at `/` comes with
 * `demo: true`; docs/history-and-recovery.md), counting its messages and people per room
 * (`counter:room:<name>`, which any client may watch; docs/counters.md), and the same chat
 * without history or counters under `bench:*`, which the benchmarks load. `stats:<room>` carries
 * a room's live figures of the last minute, from one topic worker per room in the whole cluster
 * (docs/topic-workers.md).
 */
export default function demoApp(server: CinderServer): void {
  server.channel("room:*", { ...countedRoomChannel(server.counters), history: { size: 200, ttlMs: 300_000 } });
  server.channel("counter:*", server.counters.channel({ uniques: true, authorize: (key) => key.startsWith("room:") }));
  server.channel("bench:*", roomChannel);
  server.channel("stats:*", roomStatsChannel);
  server.topicWorker("stats:*", roomStatsWorker);
}
