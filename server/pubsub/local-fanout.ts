import type { Frame } from "../../client/codec/frame.js";
import type { Serializer } from "../../client/codec/serializer.js";
import type { Channel } from "../channel/channel.js";
import type { ChannelHandler } from "../channel/handler.js";
import type { Payload } from "../channel/results.js";
import type { Outbox } from "./outbox.js";
import { topicKey } from "./topic-key.js";

/** One topic's local subscribers. All of them share the handler the router chose for the topic. */
interface TopicSubscribers {
  handler: ChannelHandler;
  channels: Set<Channel>;
  /** Subscribers per serializer, so only serializers in use are encoded. */
  perSerializer: Map<Serializer, number>;
}

/**
 * This thread's topic registry and delivery: every broadcast that reaches this thread, from
 * local code or from the fabric, ends here. Fast path: encode once per serializer and let uWS
 * publish natively. Intercepted events go through each subscriber's `handleOut`.
 */
export class LocalFanout {
  private readonly topics = new Map<string, TopicSubscribers>();
  private subscriptions = 0;

  constructor(
    private readonly outbox: Outbox,
    private readonly onInterestChange: (topic: string, interested: boolean) => void = () => {},
  ) {}

  subscribe(channel: Channel): void {
    let entry = this.topics.get(channel.topic);
    if (!entry) {
      entry = { handler: channel.handler, channels: new Set(), perSerializer: new Map() };
      this.topics.set(channel.topic, entry);
      this.onInterestChange(channel.topic, true);
    }
    entry.channels.add(channel);
    this.subscriptions++;
    const serializer = channel.connection.serializer;
    entry.perSerializer.set(serializer, (entry.perSerializer.get(serializer) ?? 0) + 1);
    channel.connection.ws?.subscribe(topicKey(serializer, channel.topic));
  }

  unsubscribe(channel: Channel): void {
    const entry = this.topics.get(channel.topic);
    if (!entry || !entry.channels.delete(channel)) return;
    this.subscriptions--;
    const serializer = channel.connection.serializer;
    const left = (entry.perSerializer.get(serializer) ?? 1) - 1;
    if (left === 0) entry.perSerializer.delete(serializer);
    else entry.perSerializer.set(serializer, left);
    channel.connection.ws?.unsubscribe(topicKey(serializer, channel.topic));
    if (entry.channels.size === 0) {
      this.topics.delete(channel.topic);
      this.onInterestChange(channel.topic, false);
    }
  }

  /** Deliver to local subscribers of `topic`, except `from` (broadcast_from). */
  deliver(topic: string, event: string, payload: Payload, from: Channel | null = null): void {
    const entry = this.topics.get(topic);
    if (!entry) return;
    const { handler } = entry;
    if (handler.handleOut && handler.intercept?.includes(event)) {
      const targets = [...entry.channels];
      this.outbox.defer(() => {
        for (const channel of targets) if (channel !== from) channel.deliverOut(event, payload);
      });
      return;
    }
    const frame: Frame = { joinRef: null, ref: null, topic, event, payload };
    for (const serializer of entry.perSerializer.keys()) {
      this.outbox.publish(topicKey(serializer, topic), serializer.encode(frame, "toClient"), from?.connection ?? null);
    }
  }

  hasSubscribers(topic: string): boolean {
    return this.topics.has(topic);
  }

  /** Number of channel subscriptions on this thread (for /health and metrics). */
  get subscriptionCount(): number {
    return this.subscriptions;
  }

  get topicCount(): number {
    return this.topics.size;
  }
}
