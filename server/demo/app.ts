import type { CinderServer } from "../server.js";
import { roomChannel } from "./room-channel.js";
import { roomStatsChannel, roomStatsWorker } from "./room-stats.js";

/**
 * The demo app `npm start` runs: the chat channel with history (the page at `/` comes with
 * `demo: true`; README, "History and recovery"), and the same chat without history under
 * `bench:*`, which the benchmarks load. `stats:<room>` carries a room's live figures, from one
 * topic worker per room in the whole cluster (README, "Topic workers").
 */
export default function demoApp(server: CinderServer): void {
  server.channel("room:*", { ...roomChannel, history: { size: 200, ttl: 300 } });
  server.channel("bench:*", roomChannel);
  server.channel("stats:*", roomStatsChannel);
  server.topicWorker("stats:*", roomStatsWorker);
}
