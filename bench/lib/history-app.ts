/**
 * The app the recovery part of `npm run bench -- history` gives the nodes (APP): the demo app's
 * channels, with `room:*` keeping BENCH_HISTORY_SIZE messages per topic instead of the demo's
 * 200, so that a rejoin can be sent 300 missed messages.
 */
import { roomChannel } from "../../server/demo/room-channel.js";
import type { CinderServer } from "../../server/server.js";

/** The demo app's history TTL. */
const TTL_MS = 300_000;

export default function historyBenchApp(server: CinderServer): void {
  const size = Number(process.env.BENCH_HISTORY_SIZE ?? "200");
  server.channel("room:*", { ...roomChannel, history: { size, ttlMs: TTL_MS } });
  server.channel("bench:*", roomChannel);
}
