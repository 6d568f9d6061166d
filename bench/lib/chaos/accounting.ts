/**
 * The accounting of a chaos run: what each client should have received, what it did, and
 * where the difference is a loss. Every count is attributed to the window it happened in: a
 * message to the window its push was sent in, a join to the window of its reply.
 *
 * A client's room channel is joined in segments: from a join's ok reply until the channel errors
 * or closes. Within one, a message m of the room is EXPECTED LIVE by the client when
 *   (a) m was acked `ok`, sent after the segment's join reply, and the segment lasted at least
 *       `settleMs` past the ok reply (a client cut sooner may get m from its recovery instead); or
 *   (b) Redis stored m at offset o of epoch E and the client received, in the segment, a later
 *       offset of E while o was past its position: past the join reply's `o` when E is the
 *       epoch the segment joined in, anywhere in E when E began during the segment.
 * An expected message the client never received (in any segment) is MISSING WHILE CONNECTED.
 *
 * A rejoin that sent `_since {o: p}` and got `recovered: true, o: q, e` must bring offsets
 * p+1…q of epoch e after its reply: each one the client never received is MISSING ACROSS A
 * RECOVERED REJOIN. A rejoin that sent `_since` and got `recovered: false` is REFUSED; what Redis
 * held past the client's real position (the epoch and offset of the last message it received)
 * up to the reply's `o` in that same epoch was NOT REPLAYED.
 *
 * A push acked `ok` that no client received at all is ACKED BUT DELIVERED TO NO ONE. A message a
 * client received more than once counts each extra copy as a DUPLICATE; within a segment, a
 * message of the same epoch with a lower offset than the one before it is OUT OF ORDER. A
 * message can count in several of these: they are views of the same run, not a partition.
 */
import type { ClientRecord } from "./ledger.js";
import { clientFindings, deliveredToNoOne, type Evidence, type Finding, type LossKind } from "./expectations.js";

export interface Window {
  readonly label: string;
  readonly start: number;
}

/** Counts that must all be 0 in a run without losses. */
export interface Losses extends Record<LossKind, number> {
  /** Distinct messages among the (client, message) pairs of missingConnected and missingRecovered. */
  missingConnectedMessages: number;
  missingRecoveredMessages: number;
}

export const LOSS_NAMES: ReadonlyArray<keyof Losses> = [
  "missingConnected",
  "missingConnectedMessages",
  "missingRecovered",
  "missingRecoveredMessages",
  "refused",
  "ackedUndelivered",
  "duplicates",
  "outOfOrder",
];

export interface WindowCounts extends Losses {
  readonly label: string;
  readonly start: number;
  readonly end: number;
  pushes: number;
  acked: number;
  /** Pushes answered `error` or not answered in time. */
  failed: number;
  /** Acked `ok`, never seen in Redis's stream (read every 100 ms: one stored just before Redis died can be among them). */
  ackedUnseen: number;
  /** Joins that sent `_since`, and those of them that recovered. */
  rejoins: number;
  recovered: number;
  /** What Redis held that refused rejoins did not bring. */
  notReplayed: number;
  /** Join replies `error`, or none in time. */
  joinFailures: number;
  errorLines: number;
  warnLines: number;
  crashes: number;
  /** The longest time any room's clients together went without a `stats` push, seconds. */
  statsSilence: number;
}

export interface AccountInput extends Evidence {
  readonly clients: readonly ClientRecord[];
  /** In time order; the first starts when the traffic starts, the last ends at endAt. */
  readonly windows: readonly Window[];
}

export interface Accounting {
  readonly windows: WindowCounts[];
  /** Every loss, in the window order of their `at`. */
  readonly findings: Finding[];
}

export function account(input: AccountInput): Accounting {
  const { windows, endAt } = input;
  const counts = windows.map((w, i) => emptyCounts(w, windows[i + 1]?.start ?? endAt));
  const windowAt = (at: number) => {
    let index = 0;
    while (index + 1 < windows.length && windows[index + 1].start <= at) index++;
    return counts[index];
  };
  const findings = deliveredToNoOne(input.ledger, input.clients);
  for (const client of input.clients) {
    const found = clientFindings(input, client);
    findings.push(...found.findings);
    for (const { at, count } of found.notReplayed) windowAt(at).notReplayed += count;
    countJoins(client, windowAt);
  }
  const distinct = new Map<WindowCounts, Set<string>>(counts.map((c) => [c, new Set()]));
  for (const finding of findings) {
    const window = windowAt(finding.at);
    window[finding.kind]++;
    const kind = finding.kind === "missingConnected" ? "missingConnectedMessages" : finding.kind === "missingRecovered" ? "missingRecoveredMessages" : undefined;
    const key = `${kind} ${finding.message}`;
    if (kind && !distinct.get(window)?.has(key)) {
      distinct.get(window)?.add(key);
      window[kind]++;
    }
  }
  for (const push of input.ledger.pushes) {
    const window = windowAt(push.sentAt);
    window.pushes++;
    if (push.status !== "ok") {
      window.failed++;
      continue;
    }
    window.acked++;
    if (!input.streams.stored.has(push.index)) window.ackedUnseen++;
  }
  for (const line of input.ledger.lines) windowAt(line.at)[line.level === "error" ? "errorLines" : "warnLines"]++;
  for (const crash of input.ledger.crashes) windowAt(crash.at).crashes++;
  for (const window of counts) window.statsSilence = statsSilence(input.clients, window.start, window.end);
  findings.sort((a, b) => a.at - b.at);
  return { windows: counts, findings };
}

/** The sum of every window (the longest stats silence of any). */
export function totalOf(counts: readonly WindowCounts[]): WindowCounts {
  const total = emptyCounts({ label: "all", start: counts[0]?.start ?? 0 }, counts.at(-1)?.end ?? 0);
  const sums = total as unknown as Record<string, number>;
  for (const window of counts) {
    for (const [name, value] of Object.entries(window)) {
      if (typeof value !== "number" || name === "start" || name === "end") continue;
      sums[name] = name === "statsSilence" ? Math.max(sums[name], value) : sums[name] + value;
    }
  }
  return total;
}

function emptyCounts(window: Window, end: number): WindowCounts {
  const zero = { pushes: 0, acked: 0, failed: 0, ackedUnseen: 0, rejoins: 0, recovered: 0, notReplayed: 0, joinFailures: 0 };
  const losses = Object.fromEntries(LOSS_NAMES.map((name) => [name, 0])) as unknown as Losses;
  return { label: window.label, start: window.start, end, ...zero, errorLines: 0, warnLines: 0, crashes: 0, statsSilence: 0, ...losses };
}

function countJoins(client: ClientRecord, windowAt: (at: number) => WindowCounts): void {
  for (const join of client.joins) {
    const window = windowAt(join.at);
    if (join.status !== "ok") window.joinFailures++;
    else if (join.since) {
      window.rejoins++;
      if (join.recovery?.recovered) window.recovered++;
    }
  }
}

/** The longest silence of `stats` in any room between `start` and `end`, seconds (all clients of a room together). */
function statsSilence(clients: readonly ClientRecord[], start: number, end: number): number {
  const byRoom = new Map<string, number[]>();
  for (const client of clients) {
    const times = byRoom.get(client.plan.room) ?? [];
    for (const at of client.statsAt) if (at >= start && at <= end) times.push(at);
    byRoom.set(client.plan.room, times);
  }
  let longest = 0;
  for (const times of byRoom.values()) {
    times.sort((a, b) => a - b);
    let previous = start;
    for (const at of [...times, end]) {
      longest = Math.max(longest, at - previous);
      previous = at;
    }
  }
  return longest / 1000;
}
