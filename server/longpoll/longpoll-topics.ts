import type { EncodedFrame } from "../../client/codec/serializer.js";
import type { SubscriberSocket } from "../pubsub/subscriber.js";

/** What a topic delivers to: a LongPoll session's outbox. */
export interface TopicMember {
  /** The connection it stands for (a broadcast_from names it to be skipped). */
  readonly socket: SubscriberSocket;
  send(data: string | Uint8Array, isBinary: boolean): number;
}

/**
 * The uWS topics of LongPoll sessions, which uWS cannot publish to (they are not WebSockets):
 * the publish queue hands each publish here too, after uWS published it to the WebSockets, so
 * both transports see every broadcast in the same order and from the same encoded bytes.
 */
export class LongPollTopics {
  private readonly members = new Map<string, Set<TopicMember>>();

  subscribe(topicKey: string, member: TopicMember): void {
    let set = this.members.get(topicKey);
    if (!set) this.members.set(topicKey, (set = new Set()));
    set.add(member);
  }

  unsubscribe(topicKey: string, member: TopicMember): void {
    const set = this.members.get(topicKey);
    if (!set?.delete(member) || set.size > 0) return;
    this.members.delete(topicKey);
  }

  /** Delivers to every member of the topic but `from`'s (broadcast_from). */
  readonly publish = (topicKey: string, frame: EncodedFrame, from: SubscriberSocket | null): void => {
    const set = this.members.get(topicKey);
    if (!set) return;
    for (const member of set) if (member.socket !== from) member.send(frame.data, frame.binary);
  };
}
