import { jsonSerializer, type Serializer } from "../../client/codec/serializer.js";
import type { PresenceDiff } from "./diff.js";
import { DIFF_EVENT, frameOf, type PartFrame } from "./state-parts.js";

interface Entry {
  readonly diff: PresenceDiff;
  readonly frames: Map<Serializer, PartFrame>;
  /** Bytes of the log up to and including this entry, since the log began. */
  readonly end: number;
}

/**
 * The presence_diffs a topic delivered while some of its members were catching up, numbered in
 * order (`seq`), so that a member on a snapshot taken at `seq` gets exactly the diffs its
 * subscribers got after it. Entries are dropped from the front once no member needs them
 * (`trimBefore`); each is encoded at most once per serializer.
 */
export class DiffLog {
  private entries: Entry[] = [];
  /** seq of entries[0]. */
  private first = 0;
  /** Bytes of everything ever logged before entries[0]. */
  private dropped = 0;
  private total = 0;

  constructor(private readonly topic: string) {}

  /** The seq the next diff will get. */
  get next(): number {
    return this.first + this.entries.length;
  }

  /** The oldest seq still held. */
  get oldest(): number {
    return this.first;
  }

  /** Bytes held (as JSON). */
  get bytes(): number {
    return this.total - this.dropped;
  }

  append(diff: PresenceDiff): void {
    // Encoded as JSON at once, for its size (and JSON clients are the common case).
    const json = frameOf(jsonSerializer.encode(this.frameOf(diff), "toClient"));
    this.total += json.bytes;
    this.entries.push({ diff, frames: new Map([[jsonSerializer, json]]), end: this.total });
  }

  /** Whether `seq` is still held (or is the next one). */
  holds(seq: number): boolean {
    return seq >= this.first && seq <= this.next;
  }

  /** Bytes from `seq` (held) to the end. */
  bytesSince(seq: number): number {
    if (seq >= this.next) return 0;
    const before = seq === this.first ? this.dropped : this.entries[seq - this.first - 1].end;
    return this.total - before;
  }

  diff(seq: number): PresenceDiff {
    return this.entries[seq - this.first].diff;
  }

  frame(seq: number, serializer: Serializer): PartFrame {
    const entry = this.entries[seq - this.first];
    let frame = entry.frames.get(serializer);
    if (!frame) entry.frames.set(serializer, (frame = frameOf(serializer.encode(this.frameOf(entry.diff), "toClient"))));
    return frame;
  }

  /** Drops the entries before `seq`. */
  trimBefore(seq: number): void {
    const count = Math.min(seq, this.next) - this.first;
    if (count <= 0) return;
    this.dropped = this.entries[count - 1].end;
    this.entries = this.entries.slice(count);
    this.first += count;
  }

  /** Drops everything; the next diff keeps its place in the numbering. */
  clear(): void {
    this.trimBefore(this.next);
  }

  private frameOf(diff: PresenceDiff) {
    return { joinRef: null, ref: null, topic: this.topic, event: DIFF_EVENT, payload: { joins: diff.joins, leaves: diff.leaves } };
  }
}
