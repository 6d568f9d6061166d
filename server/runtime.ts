import type { Channel } from "./channel/channel.js";
import type { Payload } from "./channel/results.js";
import type { ChannelRouter } from "./channel/router.js";
import type { ServerConfig } from "./config.js";
import type { Logger } from "./ops/logger.js";
import type { Metrics } from "./ops/metrics.js";
import type { LocalFanout } from "./pubsub/local-fanout.js";
import type { Outbox } from "./pubsub/outbox.js";
import type { PresenceService } from "./presence/presence-service.js";

/** The parts of a running node that sockets and channels use. */
export interface Runtime {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly router: ChannelRouter;
  readonly outbox: Outbox;
  readonly fanout: LocalFanout;
  readonly presence: PresenceService;
  /** Broadcast through the fabric; `from` is skipped (broadcast_from). */
  broadcast(topic: string, event: string, payload: Payload, from: Channel | null): void;
}
