import type { Frame } from "../../client/codec/frame.js";
import { jsonSerializer, type EncodedFrame, type Serializer } from "../../client/codec/serializer.js";
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
    /** Told when this thread gains its first or loses its last subscriber of a topic. */
    private readonly onInterestChange: (topic: string, interested: boolean) => Promise<void> | void = () => {},
  ) {}

  /**
   * Adds a joined channel. Returns a promise when this is the thread's first subscriber of the
   * topic and the fabric needs a moment to route the topic here: the join reply waits for it,
   * so no message published after the reply can miss this subscriber.
   */
  subscribe(channel: Channel): Promise<void> | void {
    let entry = this.topics.get(channel.topic);
    let ready: Promise<void> | void = undefined;
    if (!entry) {
      entry = { handler: channel.handler, channels: new Set(), perSerializer: new Map() };
      this.topics.set(channel.topic, entry);
      ready = this.onInterestChange(channel.topic, true);
    }
    entry.channels.add(channel);
    this.subscriptions++;
    const serializer = channel.connection.serializer;
    entry.perSerializer.set(serializer, (entry.perSerializer.get(serializer) ?? 0) + 1);
    channel.connection.ws?.subscribe(topicKey(serializer, channel.topic));
    return ready;
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

  /**
   * Deliver to local subscribers of `topic`, except `from` (broadcast_from).
   * `json` is the V2 JSON frame if the caller already encoded it (to share it with other workers).
   */
  deliver(topic: string, event: string, payload: Payload, from: Channel | null = null, json?: EncodedFrame): void {
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
      const encoded = serializer === jsonSerializer && json ? json : serializer.encode(frame, "toClient");
      this.outbox.publish(topicKey(serializer, topic), encoded, from?.connection ?? null);
    }
  }

  /**
   * A broadcast that arrives already encoded as a V2 JSON frame (from another worker or node).
   * JSON subscribers get the bytes as they are; the payload is decoded only when msgpack
   * subscribers or handleOut need it.
   */
  deliverEncoded(topic: string, event: string, json: EncodedFrame): void {
    const entry = this.topics.get(topic);
    if (!entry) return;
    const onlyJson = entry.perSerializer.size === 1 && entry.perSerializer.has(jsonSerializer);
    const intercepted = entry.handler.handleOut && entry.handler.intercept?.includes(event);
    if (onlyJson && !intercepted) {
      this.outbox.publish(topicKey(jsonSerializer, topic), json, null);
      return;
    }
    const { payload } = jsonSerializer.decode(json.data, "toClient");
    this.deliver(topic, event, payload as Payload, null, json);
  }

  /**
   * The registry's copy of `topic` when it has one: every frame decodes a fresh string, and a
   * million subscriptions to a few topics should not hold a million copies of their names.
   */
  intern(topic: string): string {
    const entry = this.topics.get(topic);
    if (!entry) return topic;
    for (const channel of entry.channels) return channel.topic;
    return topic;
  }


  /** Number of channel subscriptions on this thread (for /health and metrics). */
  get subscriptionCount(): number {
    return this.subscriptions;
  }

  get topicCount(): number {
    return this.topics.size;
  }
}
