// An app for history tests, loaded by each node (and each worker) from the built server:
// the demo chat with room for a thousand messages per topic.
import { roomChannel } from "../../../dist/server/index.js";

export default function setup(server) {
  server.channel("room:*", { ...roomChannel, history: { size: 2000, ttlMs: 300_000 } });
}
