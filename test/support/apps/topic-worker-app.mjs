// An app for topic worker tests, loaded by each node (and each worker thread) from the built
// server: the worker of every `tw:*` and `long:*` topic broadcasts a numbered tick every 100 ms,
// saying which node runs it and with which fencing number.
import { ok } from "../../../dist/server/index.js";

const ticking = (linger) => ({
  linger,
  start(topic, ctx) {
    let n = 0;
    const timer = setInterval(() => void ctx.broadcast("tick", { node: process.env.NODE_NAME, fence: ctx.fence, n: n++ }), 100);
    return { stop: () => clearInterval(timer) };
  },
});

export default function setup(server) {
  server.channel("tw:*", { join: () => ok({}) });
  server.channel("long:*", { join: () => ok({}) });
  server.topicWorker("tw:*", ticking(1000));
  server.topicWorker("long:*", ticking(4000));
}
