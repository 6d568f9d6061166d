/** A few losses of each kind per window, in words, so a count can be checked by hand against the logs. */
import type { WindowCounts } from "./accounting.js";
import type { Finding, LossKind, MessageKey } from "./expectations.js";
import type { ClientRecord, Ledger, StreamRecord } from "./ledger.js";

export interface ExampleSources {
  readonly ledger: Ledger;
  readonly clients: readonly ClientRecord[];
  readonly streams: StreamRecord;
  readonly nodeNames: readonly string[];
}

const KIND_WORDS: Record<LossKind, string> = {
  missingConnected: "missing while connected",
  missingRecovered: "missing across a recovered rejoin",
  refused: "rejoin refused",
  ackedUndelivered: "acked ok, delivered to no one",
  duplicates: "duplicate",
  outOfOrder: "out of order",
};

/** Up to `each` examples per window and kind; findings about one message are told once. */
export function lossExamples(findings: readonly Finding[], windows: readonly WindowCounts[], sources: ExampleSources, each = 3): string[] {
  const received = receivedBy(sources.clients);
  const lines: string[] = [];
  for (const window of windows) {
    const inWindow = findings.filter((f) => f.at >= window.start && f.at < window.end);
    for (const kind of Object.keys(KIND_WORDS) as LossKind[]) {
      const byMessage = new Map<MessageKey, Finding[]>();
      for (const finding of inWindow.filter((f) => f.kind === kind)) {
        const key = kind === "refused" ? `${finding.client}` : finding.message;
        byMessage.set(key, [...(byMessage.get(key) ?? []), finding]);
      }
      for (const group of varied([...byMessage.values()], each, (group) => shapeOf(group[0], sources, received))) {
        lines.push(`${window.label} — ${KIND_WORDS[kind]}: ${describe(group, sources, received)}`);
      }
    }
  }
  return lines;
}

/** What sets a message's losses apart: stored or not, reached some client or none. */
function shapeOf(finding: Finding, sources: ExampleSources, received: Map<number, number>): string {
  const message = finding.message;
  if (typeof message === "string" || message < 0) return String(typeof message);
  return `${sources.streams.stored.has(message)} ${(received.get(message) ?? 0) > 0}`;
}

/** Up to `count` items, the first of each shape before the rest. */
function varied<T>(items: readonly T[], count: number, shape: (item: T) => string): T[] {
  const shapes = new Set<string>();
  const first: T[] = [];
  for (const item of items) {
    const key = shape(item);
    if (shapes.has(key)) continue;
    shapes.add(key);
    first.push(item);
  }
  const rest = items.filter((item) => !first.includes(item));
  return [...first, ...rest].slice(0, count);
}

function describe(group: Finding[], sources: ExampleSources, received: Map<number, number>): string {
  const first = group[0];
  const nodeOf = (f: Finding) => (f.node === undefined ? "?" : sources.nodeNames[f.node]);
  const who = (f: Finding) => `u${f.client} via ${nodeOf(f)}`;
  if (first.kind === "refused") return `${who(first)}: ${first.note}`;
  const message = messageWords(first.message, sources, received);
  if (first.kind === "ackedUndelivered") return message;
  if (first.kind === "duplicates" || first.kind === "outOfOrder") return `${message}; at ${who(first)}${first.note ? ` (${first.note})` : ""}`;
  const nodes = new Map<string, number>();
  for (const f of group) nodes.set(nodeOf(f), (nodes.get(nodeOf(f)) ?? 0) + 1);
  return `${message}; missed by ${group.length} (${[...nodes].map(([node, n]) => `${n} via ${node}`).join(", ")})`;
}

function messageWords(key: MessageKey, sources: ExampleSources, received: Map<number, number>): string {
  if (typeof key === "string") return `the message Redis stored at ${key} (its body never reached a client)`;
  const push = sources.ledger.pushes[key];
  const stored = sources.streams.stored.get(key);
  const members = sources.clients.filter((c) => c.plan.room === push.room).length;
  const where = stored ? `stored at offset ${stored.offset} of epoch ${stored.epoch}` : "not seen in Redis";
  return `${push.id} to ${push.room}, answered ${push.status ?? "nothing"}, ${where}, received by ${received.get(key) ?? 0} of ${members} members`;
}

/** How many clients received each message. */
function receivedBy(clients: readonly ClientRecord[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const client of clients) {
    const once = new Set<number>();
    for (const segment of client.segments) for (const message of segment.messages) once.add(message);
    for (const message of once) counts.set(message, (counts.get(message) ?? 0) + 1);
  }
  return counts;
}
