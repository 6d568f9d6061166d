import type { Medium } from "../fabric/medium.js";
import type { Leases } from "./leases.js";
import { MemoryLeases } from "./leases-memory.js";
import { RedisLeases } from "./leases-redis.js";
import { WorkerLeases } from "./leases-workers.js";

/**
 * The leases of a thread on `medium`: the main thread's (a worker), in Redis (the node's Redis connections), or in memory.
 * `onStateEvicted`: a memory lease's state was dropped to keep the table bounded (counted by the topic workers).
 */
export function leasesFor(medium: Medium, onStateEvicted: () => void): Leases {
  switch (medium.kind) {
    case "workers":
      return new WorkerLeases({ fabric: medium.fabric, worker: medium.worker });
    case "redis": {
      const { topics } = medium;
      return new RedisLeases(medium.connections, { sender: medium.sender, sharded: medium.sharded, channelOf: (topic) => topics.channelOf(topic) });
    }
    case "memory":
      return new MemoryLeases(Date.now, onStateEvicted);
  }
}
