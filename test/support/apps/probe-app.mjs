// An app for worker tests, loaded by each worker thread from the built server.
import { threadId } from "node:worker_threads";
import { ok, roomChannel } from "../../../dist/server/index.js";

export default function setup(server) {
  server.channel("room:*", roomChannel);
  server.channel("probe:*", {
    // Tells the client which worker thread holds its socket.
    join: () => ok({ thread: threadId }),
    handleIn(event) {
      if (event === "crash") {
        // An error no handler catches: the worker must go down alone and be replaced.
        setImmediate(() => {
          throw new Error("probe crash");
        });
      }
      if (event === "reject") {
        // A promise nobody awaits fails: logged, and the node goes on serving.
        void Promise.reject(new Error("probe rejection"));
      }
      return ok({ thread: threadId });
    },
  });
}
