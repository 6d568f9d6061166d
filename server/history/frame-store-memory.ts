import type { EncodedBroadcast } from "../fabric/encoded-broadcast.js";
import type { HistoryAppend, HistoryLimits, HistoryPage } from "./history.js";
import { historyFrame, newEpoch } from "./history-frame.js";

interface Entry {
  owner: TopicHistory;
  offset: number;
  frame: string;
  bytes: number;
  /** Already dropped from its topic (size limit, expiry); its bytes are no longer counted. */
  dropped: boolean;
}

interface TopicHistory {
  epoch: string;
  top: number;
  entries: Entry[];
  limits: HistoryLimits;
  /** When the last message was kept (or the history started): it is dropped `ttlMs` after that. */
  lastAt: number;
}

export interface MemoryFrameStoreOptions {
  /** All topics together keep at most this many bytes of frames; the oldest go first. */
  maxBytes: number;
  now?: () => number;
}

/**
 * History kept in this process: the authority of a node without Redis. Per topic, a dense
 * offset and the last `size` frames; a topic with no new message for `ttlMs` is dropped
 * whole, and its next message starts a new epoch (as does a restart). A global byte cap evicts
 * the oldest frames of any topic first: offsets go on, so a reader asking for an evicted one is
 * told it cannot recover.
 */
export class MemoryFrameStore {
  /** Least recently written first: expired topics are found at the front. */
  private readonly topics = new Map<string, TopicHistory>();
  /** Every kept entry in the order it was written, for the byte cap. */
  private fifo: Entry[] = [];
  private fifoHead = 0;
  private keptBytes = 0;
  private keptEntries = 0;
  private readonly now: () => number;

  constructor(private readonly options: MemoryFrameStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  append(message: HistoryAppend): EncodedBroadcast {
    const now = this.now();
    this.dropExpired(now);
    const history = this.topicOf(message.topic, message.limits, now);
    // Written last, so expiry finds the least recently written topics first.
    this.topics.delete(message.topic);
    this.topics.set(message.topic, history);
    history.lastAt = now;
    history.limits = message.limits;
    const offset = ++history.top;
    const frame = historyFrame(message.topic, message.event, message.payload, offset, history.epoch);
    const entry: Entry = { owner: history, offset, frame, bytes: frame.length * 2, dropped: false };
    history.entries.push(entry);
    this.fifo.push(entry);
    this.keptBytes += entry.bytes;
    this.keptEntries++;
    while (history.entries.length > history.limits.size) this.drop(history.entries.shift() as Entry);
    this.enforceByteCap();
    return { topic: message.topic, event: message.event, frame, offset, epoch: history.epoch, except: message.except };
  }

  read(topic: string, since: number, limit: number, limits?: HistoryLimits): HistoryPage {
    const now = this.now();
    this.dropExpired(now);
    const history = this.topicOf(topic, limits, now);
    const entries: HistoryPage["entries"] = [];
    for (const entry of history.entries) {
      if (entries.length >= limit) break;
      if (entry.offset > since) entries.push({ offset: entry.offset, frame: entry.frame });
    }
    return { epoch: history.epoch, top: history.top, entries };
  }

  /** Bytes of frames kept, all topics together. */
  get bytes(): number {
    return this.keptBytes;
  }

  get topicCount(): number {
    return this.topics.size;
  }

  private topicOf(topic: string, limits: HistoryLimits | undefined, now: number): TopicHistory {
    let history = this.topics.get(topic);
    if (!history) {
      // A reader may come first: the epoch it is told is the one the first message will carry.
      history = { epoch: newEpoch(), top: 0, entries: [], limits: limits ?? { size: 0, ttlMs: 300_000 }, lastAt: now };
      this.topics.set(topic, history);
    }
    return history;
  }

  private dropExpired(now: number): void {
    for (const [topic, history] of this.topics) {
      if (now - history.lastAt <= history.limits.ttlMs) break;
      this.topics.delete(topic);
      for (const entry of history.entries) this.drop(entry);
    }
  }

  private drop(entry: Entry): void {
    if (entry.dropped) return;
    entry.dropped = true;
    this.keptBytes -= entry.bytes;
    this.keptEntries--;
  }

  private enforceByteCap(): void {
    while (this.keptBytes > this.options.maxBytes && this.fifoHead < this.fifo.length) {
      const oldest = this.fifo[this.fifoHead++];
      if (oldest.dropped) continue;
      this.drop(oldest);
      // It is the oldest of its topic too.
      if (oldest.owner.entries[0] === oldest) oldest.owner.entries.shift();
    }
    // Entries dropped by size or expiry stay in the FIFO until it is compacted here.
    if (this.fifo.length - this.fifoHead > 2 * this.keptEntries + 1024) {
      this.fifo = this.fifo.slice(this.fifoHead).filter((entry) => !entry.dropped);
      this.fifoHead = 0;
    }
  }
}
