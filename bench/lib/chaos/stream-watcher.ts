/**
 * Reads what Redis holds of every room's history while the run goes on: each topic's epoch and
 * the entries of its stream (`cinder:h:{<topic>}:s`, entry id = offset), polled often enough
 * that nothing is trimmed (MAXLEN, the channel's history size) between two reads. Gives every
 * stored message its epoch and offset, which is what "was stored" and "came in order" are
 * checked against.
 */
import { Redis } from "ioredis";

import { hashTag } from "../../../server/redis/hash-tag.js";
import type { EpochLog, Ledger, Stored, StreamRecord } from "./ledger.js";

/** The epoch and the entries after ARGV[2] (from the start when the epoch is not ARGV[1]). */
const READ = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then return {false, {}} end
local from = ARGV[2]
if epoch ~= ARGV[1] then from = '0' end
return {epoch, redis.call('XRANGE', KEYS[2], '(' .. from .. '-0', '+', 'COUNT', 5000)}
`;

export class StreamWatcher implements StreamRecord {
  readonly epochs = new Map<string, EpochLog[]>();
  readonly stored = new Map<number, Stored>();
  failedReads = 0;
  private readonly client: Redis;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private stopped = false;

  constructor(
    redisPort: number,
    private readonly topics: readonly string[],
    private readonly ledger: Ledger,
  ) {
    this.client = new Redis(redisPort, "127.0.0.1", { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 50 });
    this.client.on("error", () => {}); // outages are part of the run
  }

  start(intervalMs = 100): void {
    this.timer = setInterval(() => void this.read(), intervalMs);
  }

  /** One read of every topic now (or the one under way). */
  read(): Promise<void> {
    this.reading ??= this.readAll().finally(() => (this.reading = undefined));
    return this.reading;
  }

  /** A last read, then the connection closes (again: nothing). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.read();
    this.client.disconnect();
  }

  private async readAll(): Promise<void> {
    await Promise.all(this.topics.map((topic) => this.readTopic(topic)));
  }

  private async readTopic(topic: string): Promise<void> {
    const logs = this.epochs.get(topic) ?? [];
    const latest = logs.at(-1);
    const after = latest ? Math.max(0, ...latest.entries.keys()) : 0;
    const base = `cinder:h:${hashTag(topic)}`;
    let reply: [string | null, Array<[string, string[]]>];
    try {
      reply = (await this.client.eval(READ, 2, `${base}:epoch`, `${base}:s`, latest?.epoch ?? "", String(after))) as typeof reply;
    } catch {
      this.failedReads++;
      return;
    }
    const [epoch, entries] = reply;
    if (!epoch) return;
    let log = latest;
    if (!log || log.epoch !== epoch) {
      log = { epoch, firstSeen: Date.now(), entries: new Map() };
      logs.push(log);
      this.epochs.set(topic, logs);
    }
    for (const [id, fields] of entries) {
      const offset = Number.parseInt(id, 10);
      const message = this.ledger.messageOf(bodyOf(fields[1]));
      log.entries.set(offset, message);
      if (message >= 0 && !this.stored.has(message)) this.stored.set(message, { epoch, offset });
    }
  }
}

/** The `body` of a stored frame, `[null,null,topic,event,{…}]`. */
function bodyOf(frame: string | undefined): unknown {
  try {
    return (JSON.parse(frame ?? "") as [unknown, unknown, unknown, unknown, { body?: unknown }])[4]?.body;
  } catch {
    return undefined;
  }
}
