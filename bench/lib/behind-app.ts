/**
 * The app `npm run bench -- behind` gives its node (APP): one publisher pushes `m` on a topic and
 * the channel broadcasts it to every other subscriber. `bh:*` keeps BENCH_BEHIND_HISTORY
 * messages (a subscriber behind is caught up from them); `bc:*` has no history and conflates by
 * the payload's key `k` (a subscriber behind keeps the latest message per key).
 */
import { error, noReply, ok, type ChannelHandler, type Payload } from "../../server/index.js";
import type { CinderServer } from "../../server/server.js";

const relay: Pick<ChannelHandler, "join" | "handleIn"> = {
  join: () => ok(),
  handleIn(event, payload, socket) {
    if (event !== "m") return error({ reason: `unknown event ${event}` });
    socket.broadcastFrom("m", payload);
    return noReply();
  },
};

export default function behindBenchApp(server: CinderServer): void {
  const size = Number(process.env.BENCH_BEHIND_HISTORY ?? "100000");
  server.channel("bh:*", { ...relay, history: { size, ttlMs: 600_000 } });
  server.channel("bc:*", { ...relay, conflate: (_event: string, payload: Payload) => String((payload as { k?: unknown }).k) });
}
