// An app for counter tests, loaded by each node (and each worker) from the built server: the
// demo room (presence), counter:<key> topics, and count:* to increment and read over a socket.
import { error, ok, roomChannel } from "../../../dist/server/index.js";

export default function setup(server) {
  server.channel("room:*", roomChannel);
  server.channel("counter:*", server.counters.channel({ uniques: true, authorize: (key) => !key.startsWith("secret:") }));
  server.channel("count:*", {
    join: () => ok({}),
    async handleIn(event, payload) {
      try {
        if (event === "incr") {
          for (let i = 0; i < (payload.times ?? 1); i++) server.counters.incr(payload.key, payload.by);
          return ok({});
        }
        if (event === "actors") {
          for (const actor of payload.actors) server.counters.addActor(payload.key, actor);
          return ok({});
        }
        if (event === "read") {
          return ok({ value: await server.counters.read(payload.key), uniques: await server.counters.uniques(payload.key) });
        }
      } catch (err) {
        return error({ reason: err.message });
      }
      return error({ reason: `unknown event ${event}` });
    },
  });
}
