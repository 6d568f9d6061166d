import type { Channel } from "../channel/channel.js";
import type { Broker, BroadcastMessage } from "./broker.js";
import type { LocalFanout } from "./local-fanout.js";

/** One node, one thread: every subscriber is local, so publishing is local delivery. */
export class MemoryBroker implements Broker {
  constructor(private readonly fanout: LocalFanout) {}

  publish(message: BroadcastMessage, from: Channel | null): void {
    this.fanout.deliver(message.topic, message.event, message.payload, from);
  }

  setInterest(): void {}

  async close(): Promise<void> {}
}
