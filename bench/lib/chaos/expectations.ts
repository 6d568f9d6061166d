/**
 * What one client should have received, segment by segment, against what it did: the rules
 * accounting.ts states, turned into findings.
 */
import type { ClientRecord, Ledger, PushRecord, Segment, Stored, StreamRecord } from "./ledger.js";

/** A message by its index in the ledger, or one Redis stored whose body is unknown: `<topic> <epoch> <offset>`. */
export type MessageKey = number | string;

export type LossKind = "missingConnected" | "missingRecovered" | "refused" | "ackedUndelivered" | "duplicates" | "outOfOrder";

/** One loss: what, when it counts (the message's push, else when it showed), for whom. */
export interface Finding {
  readonly kind: LossKind;
  readonly at: number;
  readonly message: MessageKey;
  readonly client?: number;
  /** The node the client was joined through. */
  readonly node?: number;
  readonly note?: string;
}

export interface Evidence {
  readonly ledger: Ledger;
  readonly streams: StreamRecord;
  readonly settleMs: number;
  /** The end of segments still open. */
  readonly endAt: number;
}

/** Every loss of one client, and (per refused rejoin) what Redis held that it did not replay. */
export function clientFindings(evidence: Evidence, client: ClientRecord): { findings: Finding[]; notReplayed: Array<{ at: number; count: number }> } {
  const { pushes } = evidence.ledger;
  const seen = receivedCounts(client);
  const findings: Finding[] = [];
  const sentAt = (key: MessageKey, otherwise: number) => (typeof key === "number" && key >= 0 ? pushes[key].sentAt : otherwise);
  for (const [message, times] of seen) {
    for (let extra = 1; extra < times; extra++) if (message >= 0) findings.push({ kind: "duplicates", at: pushes[message].sentAt, message, client: client.plan.index });
  }
  const missed = new Map<LossKind, Map<MessageKey, Finding>>([
    ["missingConnected", new Map()],
    ["missingRecovered", new Map()],
  ]);
  for (const segment of client.segments) {
    const epochs = deliveryEpochs(segment, evidence.streams.stored);
    const node = segment.join.node;
    const miss = (kind: LossKind, expected: Map<MessageKey, number>) => {
      for (const [message, at] of expected) {
        if (typeof message === "number" && seen.has(message)) continue;
        missed.get(kind)?.set(message, { kind, at: sentAt(message, at), message, client: client.plan.index, node });
      }
    };
    miss("missingConnected", expectedLive(evidence, client, segment, epochs));
    miss("missingRecovered", expectedReplay(evidence, client, segment, epochs));
    for (const i of outOfOrder(segment, epochs)) {
      const message = segment.messages[i];
      const note = `offset ${segment.offsets[i]} after ${segment.offsets[i - 1]}`;
      findings.push({ kind: "outOfOrder", at: sentAt(message, segment.times[i]), message, client: client.plan.index, node, note });
    }
  }
  for (const byMessage of missed.values()) findings.push(...byMessage.values());
  const notReplayed: Array<{ at: number; count: number }> = [];
  for (const join of client.joins) {
    if (join.status !== "ok" || !join.since || !join.recovery || join.recovery.recovered) continue;
    const note = `_since ${JSON.stringify(join.since)} → ${JSON.stringify(join.recovery)}`;
    findings.push({ kind: "refused", at: join.at, message: -1, client: client.plan.index, node: join.node, note });
    notReplayed.push({ at: join.at, count: heldNotReplayed(evidence, client, join.at, join.recovery, seen) });
  }
  return { findings, notReplayed };
}

/** Pushes acked `ok` that no client received. */
export function deliveredToNoOne(ledger: Ledger, clients: readonly ClientRecord[]): Finding[] {
  const delivered = new Uint8Array(ledger.pushes.length);
  for (const client of clients) for (const segment of client.segments) for (const message of segment.messages) if (message >= 0) delivered[message] = 1;
  return ledger.pushes.filter((p) => p.status === "ok" && delivered[p.index] === 0).map((p) => ({ kind: "ackedUndelivered", at: p.sentAt, message: p.index }));
}

function receivedCounts(client: ClientRecord): Map<number, number> {
  const seen = new Map<number, number>();
  for (const segment of client.segments) for (const message of segment.messages) seen.set(message, (seen.get(message) ?? 0) + 1);
  return seen;
}

/**
 * The epoch of each delivery in a segment: the payload's `_e`, else where Redis stored the
 * message, else the epoch of the delivery before it (or the join's).
 */
export function deliveryEpochs(segment: Segment, stored: ReadonlyMap<number, Stored>): string[] {
  let previous = segment.join.recovery?.e ?? "";
  return segment.messages.map((message, i) => (previous = segment.epochs[i] ?? stored.get(message)?.epoch ?? previous));
}

/** Offsets received in a segment, per epoch. */
function offsetsByEpoch(segment: Segment, epochs: readonly string[]): Map<string, Set<number>> {
  const byEpoch = new Map<string, Set<number>>();
  segment.offsets.forEach((offset, i) => {
    const set = byEpoch.get(epochs[i]) ?? new Set<number>();
    set.add(offset);
    byEpoch.set(epochs[i], set);
  });
  return byEpoch;
}

/** The message Redis stored at `offset` of `epoch` of `topic`, or a key naming the place. */
function storedAt(streams: StreamRecord, topic: string, epoch: string, offset: number): MessageKey {
  const message = streams.epochs.get(topic)?.find((log) => log.epoch === epoch)?.entries.get(offset);
  return message !== undefined && message >= 0 ? message : `${topic} ${epoch} ${offset}`;
}

/** Index of the first push sent after `at` (pushes are in the order they were sent). */
function firstSentAfter(pushes: readonly PushRecord[], at: number): number {
  let low = 0;
  let high = pushes.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (pushes[middle].sentAt <= at) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Rules (a) and (b) of accounting.ts: message → when it showed, for a message whose body is unknown. */
function expectedLive(evidence: Evidence, client: ClientRecord, segment: Segment, epochs: readonly string[]): Map<MessageKey, number> {
  const expected = new Map<MessageKey, number>();
  const end = segment.end ?? evidence.endAt;
  const { pushes } = evidence.ledger;
  for (let i = firstSentAfter(pushes, segment.start); i < pushes.length && pushes[i].sentAt <= end; i++) {
    const push = pushes[i];
    if (push.room === client.plan.room && push.status === "ok" && (push.repliedAt as number) + evidence.settleMs < end) expected.set(push.index, push.sentAt);
  }
  const topic = client.plan.room;
  const joined = segment.join.recovery;
  for (const [epoch, offsets] of offsetsByEpoch(segment, epochs)) {
    const log = evidence.streams.epochs.get(topic)?.find((l) => l.epoch === epoch);
    let from: number;
    if (epoch === joined?.e) from = joined.o;
    else if (log && log.firstSeen > segment.start) from = 0; // an epoch that began while the client was joined
    else continue;
    const to = Math.max(...offsets);
    const showedAt = segment.times[segment.offsets.lastIndexOf(to)];
    for (let offset = from + 1; offset < to; offset++) {
      if (!offsets.has(offset)) expected.set(storedAt(evidence.streams, topic, epoch, offset), showedAt);
    }
  }
  return expected;
}

/** The replay a recovered rejoin owes: offsets p+1…q of its epoch, those not received in the segment. */
function expectedReplay(evidence: Evidence, client: ClientRecord, segment: Segment, epochs: readonly string[]): Map<MessageKey, number> {
  const expected = new Map<MessageKey, number>();
  const { since, recovery } = segment.join;
  if (!since || !recovery?.recovered) return expected;
  const got = offsetsByEpoch(segment, epochs).get(recovery.e) ?? new Set<number>();
  for (let offset = since.o + 1; offset <= recovery.o; offset++) {
    if (!got.has(offset)) expected.set(storedAt(evidence.streams, client.plan.room, recovery.e, offset), segment.join.at);
  }
  return expected;
}

/** Indexes of deliveries that came after a higher offset of the same epoch in the same segment. */
function outOfOrder(segment: Segment, epochs: readonly string[]): number[] {
  const late: number[] = [];
  for (let i = 1; i < segment.offsets.length; i++) if (epochs[i] === epochs[i - 1] && segment.offsets[i] < segment.offsets[i - 1]) late.push(i);
  return late;
}

/** What Redis held in the reply's epoch past the client's real position (its last delivery) up to the reply's `o`, that it never got. */
function heldNotReplayed(evidence: Evidence, client: ClientRecord, at: number, recovery: { o: number; e: string }, seen: Map<number, number>): number {
  const last = lastDeliveryBefore(client, at, evidence.streams.stored);
  if (!last || last.epoch !== recovery.e) return 0;
  const log = evidence.streams.epochs.get(client.plan.room)?.find((l) => l.epoch === recovery.e);
  let count = 0;
  for (const [offset, message] of log?.entries ?? []) if (offset > last.offset && offset <= recovery.o && !seen.has(message)) count++;
  return count;
}

function lastDeliveryBefore(client: ClientRecord, at: number, stored: ReadonlyMap<number, Stored>): Stored | undefined {
  for (let s = client.segments.length - 1; s >= 0; s--) {
    const segment = client.segments[s];
    if (segment.start >= at || segment.messages.length === 0) continue;
    const i = segment.messages.length - 1;
    return { epoch: deliveryEpochs(segment, stored)[i], offset: segment.offsets[i] };
  }
  return undefined;
}
