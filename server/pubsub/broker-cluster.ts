import type { Channel } from "../channel/channel.js";
import type { Metrics } from "../ops/metrics.js";
import type { Broker, BroadcastMessage } from "./broker.js";
import type { RemoteFabric } from "./broker-redis.js";
import type { LocalFanout } from "./local-fanout.js";

/**
 * A node in a cluster: broadcasts reach this node's subscribers through the node's own fabric
 * (`inner`: this thread, or this thread and its sibling workers) and other nodes through the
 * remote fabric. What arrives from other nodes is delivered on this thread only: each worker
 * with interest subscribes to the topic itself, and siblings never forward remote traffic.
 */
export class ClusterBroker implements Broker {
  constructor(
    private readonly inner: Broker,
    private readonly remote: RemoteFabric,
    fanout: LocalFanout,
    private readonly metrics: Metrics,
  ) {
    remote.onMessage((message) => {
      metrics.clusterReceived.inc();
      fanout.deliver(message.topic, message.event, message.payload, null);
    });
  }

  publish(message: BroadcastMessage, from: Channel | null): void {
    this.inner.publish(message, from);
    this.remote.publish(message);
    this.metrics.clusterSent.inc();
  }

  /** A first join of a topic waits until both sibling workers and Redis route the topic here. */
  setInterest(topic: string, interested: boolean): Promise<void> | void {
    const remote = this.remote.setInterest(topic, interested);
    const inner = this.inner.setInterest(topic, interested);
    if (!remote && !inner) return;
    return Promise.all([remote, inner]).then(() => undefined);
  }

  async close(): Promise<void> {
    await this.inner.close();
    await this.remote.close();
  }
}
