import type { ChannelHandler } from "./handler.js";

/**
 * The channel handlers of one server, each numbered once: a channel keeps its handler's number in
 * its packed state, where a field cost 8 bytes per membership. The handlers are the routes' own
 * objects (ChannelRouter), a fixed set per server, so the list stays as short as the routes and
 * goes with the server.
 */
export class HandlerNumbers {
  private readonly handlers: ChannelHandler[] = [];
  private readonly numbers = new Map<ChannelHandler, number>();

  /** `limit`: the numbers the caller can hold (a channel's packed state has room for 2^24). */
  constructor(private readonly limit: number) {}

  numberOf(handler: ChannelHandler): number {
    let number = this.numbers.get(handler);
    if (number === undefined) {
      if (this.handlers.length >= this.limit) throw new Error(`more than ${this.limit} channel handlers`);
      number = this.handlers.push(handler) - 1;
      this.numbers.set(handler, number);
    }
    return number;
  }

  handlerOf(number: number): ChannelHandler {
    return this.handlers[number];
  }
}
