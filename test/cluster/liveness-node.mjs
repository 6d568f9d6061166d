// A node's liveness beacon alone, in a process of its own, so that a test can stall it for real
// (SIGSTOP/SIGCONT) while the observer runs in the test process. It runs the built code
// (`npm run build`), with the default timings unless LIVENESS_TIMINGS (JSON) says otherwise.
//
// env: REDIS_URL, NODE_NAME, REPLICAS (a JSON list of replica ids), LIVENESS_TIMINGS (optional)
// stdout, one JSON object a line:
//   {"event":"refreshed","previous":<the key's value this refresh replaced, null if it had expired>}
//   {"event":"revived"}   the node learnt that its key had expired (onRevived)
//   {"event":"stopped"}   after SIGTERM: the key is removed, the process exits
import { NodeLiveness } from "../../dist/server/redis/liveness.js";
import { RedisConnections } from "../../dist/server/redis/redis-connections.js";

const { REDIS_URL, NODE_NAME, REPLICAS, LIVENESS_TIMINGS } = process.env;
if (!REDIS_URL || !NODE_NAME || !REPLICAS) throw new Error("REDIS_URL, NODE_NAME and REPLICAS are required");
const replicas = JSON.parse(REPLICAS);
const timings = LIVENESS_TIMINGS ? JSON.parse(LIVENESS_TIMINGS) : {};

const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const connections = new RedisConnections({ url: REDIS_URL, nodeName: NODE_NAME, backoff: { minMs: 20, maxMs: 200 } });
const liveness = new NodeLiveness({ connections, nodeName: NODE_NAME, replicas: () => replicas, ...timings });

// Every refresh of our key (SET … GET) is reported with the value it replaced.
const ownKey = `cinder:node:${NODE_NAME}`;
const publisher = connections.publisher;
const set = publisher.set.bind(publisher);
publisher.set = (...args) => {
  const reply = set(...args);
  if (args[0] === ownKey) reply.then((previous) => emit({ event: "refreshed", previous }), () => {});
  return reply;
};
liveness.onRevived(() => emit({ event: "revived" }));
liveness.start();

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await liveness.stop();
  await connections.close();
  emit({ event: "stopped" });
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
// The test process is gone: do not outlive it.
process.stdin.on("end", () => void stop());
process.stdin.resume();
