import { hashTag } from "../redis/hash-tag.js";
import type { RedisConnections } from "../redis/redis-connections.js";
import { runScript } from "../redis/scripts.js";
import type { HistoryAppend, HistoryLimits, HistoryPage } from "./history.js";
import { EPOCH_KEY, framePrefix, newEpoch, OFFSET_KEY } from "./history-frame.js";

/**
 * One publication to a history topic, atomically: the topic's epoch (a new one, and a new
 * sequence, if its history was lost), the next offset, the frame with the offset and the epoch
 * in its payload (as `withPosition` builds it), XADD under the offset as the entry id (MAXLEN
 * size), the TTLs, and the PUBLISH to the topic's channel (unless sharded, where the caller
 * SPUBLISHes: a script may only publish to its own slot). Every node then sees the offsets of a
 * topic in order.
 */
const APPEND = `
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
  redis.call('DEL', KEYS[1], KEYS[3])
end
local offset = redis.call('INCR', KEYS[1])
local payload = ARGV[3]
local position = '"${OFFSET_KEY}":' .. offset .. ',"${EPOCH_KEY}":"' .. epoch .. '"'
local body
if payload == '{}' then body = '{' .. position .. '}' else body = string.sub(payload, 1, -2) .. ',' .. position .. '}' end
local frame = ARGV[2] .. body .. ']'
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[4], offset .. '-0', 'f', frame)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
if ARGV[6] ~= '' then
  redis.call('PUBLISH', ARGV[6], cmsgpack.pack({2, ARGV[7], ARGV[8], ARGV[9], frame, offset, epoch, ARGV[10]}))
end
return {offset, epoch, frame}
`;

/**
 * The epoch, the top offset and the entries after ARGV[2]; a topic without history gets its
 * epoch now. With a channel (ARGV[5]), a marker (ARGV[6]) is published there at the very point
 * of the read: once the reader's node receives it, every broadcast the read saw has reached it
 * too (the reply and the broadcasts travel on different connections).
 */
const READ = `
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
  redis.call('DEL', KEYS[1], KEYS[3])
  return {ARGV[1], 0, {}}
end
local top = tonumber(redis.call('GET', KEYS[1]) or '0')
local entries = {}
if tonumber(ARGV[3]) > 0 then
  entries = redis.call('XRANGE', KEYS[3], '(' .. ARGV[2] .. '-0', '+', 'COUNT', ARGV[3])
end
return {epoch, top, entries}
`;

/** The keys of a topic's history share one hash tag: one Redis Cluster slot. */
function keysOf(topic: string): [string, string, string] {
  const base = `cinder:h:${hashTag(topic)}`;
  return [`${base}:seq`, `${base}:epoch`, `${base}:s`];
}

export interface Appended {
  offset: number;
  epoch: string;
  frame: string;
}

/** History kept in Redis (a Stream per topic): the authority of a cluster. */
export class RedisFrameStore {
  constructor(
    private readonly connections: RedisConnections,
    private readonly options: { sender: string; sharded: boolean; channelOf: (topic: string) => string },
  ) {}

  async append(message: HistoryAppend): Promise<Appended> {
    const { topic, event, payload, limits } = message;
    const channel = this.options.sharded ? "" : this.options.channelOf(topic);
    // Always EVAL (Redis caches the compiled script by its hash): EVALSHA would need a retry after
    // NOSCRIPT, and retries could overtake later appends of the same publisher, out of order.
    const keys = keysOf(topic);
    const reply = (await this.connections.publisher.eval(APPEND, keys.length, ...keys, ...[
      newEpoch(),
      framePrefix(topic, event),
      payload,
      String(limits.size),
      String(limits.ttlMs),
      channel,
      this.options.sender,
      topic,
      event,
      message.except ?? "",
    ])) as [number, string, string];
    return { offset: Number(reply[0]), epoch: String(reply[1]), frame: String(reply[2]) };
  }

  /** `marker`: published on the topic's channel at the point of the read (see READ). */
  async read(topic: string, since: number, limit: number, limits: HistoryLimits, marker?: Buffer): Promise<HistoryPage> {
    const channel = marker ? this.options.channelOf(topic) : "";
    const args = [newEpoch(), String(since), String(limit), String(limits.ttlMs), channel];
    const reply = (await runScript(this.connections.publisher, READ, keysOf(topic), [...args, marker ?? ""])) as [
      string,
      number,
      Array<[string, string[]]>,
    ];
    const entries = reply[2].map(([id, fields]) => ({ offset: Number.parseInt(id, 10), frame: String(fields[1]) }));
    return { epoch: String(reply[0]), top: Number(reply[1]), entries };
  }
}
