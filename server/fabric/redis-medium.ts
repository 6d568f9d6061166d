import { RedisFabric, type RedisFabricOptions } from "./fabric-redis.js";
import type { RedisMedium } from "./medium.js";
import { senderOf } from "./redis-envelope.js";

export interface RedisMediumOptions extends Omit<RedisFabricOptions, "sender"> {
  /** One per node start: tells this node's messages from those of its previous lives. */
  nodeIncarnation: string;
}

/**
 * A node's way to the other nodes through Redis, on the connections the wiring built: its
 * fabric, and the medium its Redis lanes are built on (the same connections and sender id; the
 * topic channels are the fabric's).
 */
export function fabricOverRedis(options: RedisMediumOptions): { fabric: RedisFabric; medium: RedisMedium } {
  const { nodeIncarnation, ...rest } = options;
  const sender = senderOf(options.nodeName, nodeIncarnation);
  const fabric = new RedisFabric({ ...rest, sender });
  return { fabric, medium: { kind: "redis", connections: options.connections, sender, sharded: options.sharded, topics: fabric } };
}
