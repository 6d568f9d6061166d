import type { ChannelSocket } from "../channel/channel-socket.js";
import type { ChannelHandler, JoinParams } from "../channel/handler.js";
import { error, ok } from "../channel/results.js";
import type { CounterFeed, CounterReading } from "./counter-feed.js";
import { CounterError, checkKey } from "./counter-window.js";

export const COUNTER_TOPIC_PREFIX = "counter:";

export interface CounterChannelOptions<A extends Record<string, unknown> = Record<string, unknown>> {
  /** Whether this client may watch `key`; default: any key. A refused join gets `{reason: "unauthorized"}`. */
  authorize?: (key: string, params: JoinParams, socket: ChannelSocket<A>) => boolean | Promise<boolean>;
  /** Also carry the distinct actors of the window (`uniques`). Default false. */
  uniques?: boolean;
}

/**
 * The channel of `counter:<key>` topics: the join reply carries `{key, value}` (and `uniques`),
 * then `counter` pushes the same shape at most once per `countIntervalMs`, only when it changed.
 * Clients cannot push anything.
 */
export function counterChannel<A extends Record<string, unknown>>(feed: CounterFeed, options: CounterChannelOptions<A> = {}): ChannelHandler<A> {
  const uniques = options.uniques === true;
  const keyOf = (topic: string) => topic.slice(COUNTER_TOPIC_PREFIX.length);
  const readings = new WeakMap<ChannelSocket<A>, CounterReading>();
  return {
    async join(topic, params, socket) {
      if (!topic.startsWith(COUNTER_TOPIC_PREFIX)) return error({ reason: `counter topics are named ${COUNTER_TOPIC_PREFIX}<key>` });
      let key: string;
      try {
        key = checkKey(keyOf(topic));
      } catch (err) {
        return error({ reason: (err as CounterError).message });
      }
      if (options.authorize && !(await options.authorize(key, params, socket))) return error({ reason: "unauthorized" });
      let reading: CounterReading;
      try {
        reading = await feed.read(key, uniques);
      } catch {
        return error({ reason: "the counter cannot be read now" });
      }
      readings.set(socket, reading);
      return ok(reading);
    },
    afterJoin(socket) {
      const reading = readings.get(socket);
      if (reading) feed.watch(socket.topic, reading.key, uniques, socket.socketId, reading);
      readings.delete(socket);
    },
    handleIn() {
      return error({ reason: "counter topics take no pushes" });
    },
    terminate(_reason, socket) {
      feed.unwatch(socket.topic, socket.socketId);
    },
  };
}
