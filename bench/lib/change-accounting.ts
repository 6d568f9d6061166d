/**
 * The presence-scale benchmark's joins and leaves as sent, acknowledged and still unanswered. The
 * truth the counts are judged against (count-staleness.ts) holds acknowledged changes only: a
 * count can only be laid against moments the truth is known to have held. But a server whose
 * event loop is saturated holds joins in its backlog for seconds while leaves run at once, so at
 * any moment the room the server has (or will have) counted differs from the acknowledged one by
 * the changes sent and not yet answered. These figures say by how much, and give the room as both
 * bounds: acknowledged only, and every change sent that was not answered without effect.
 */
import type { Ack } from "./count-staleness.js";

/** Every change the clients sent, acknowledged, or had answered without effect (ms, one clock). */
export interface ChangeLog {
  /** each join (+1) and leave (−1) at the time it was sent, the fill's included */
  sent: readonly Ack[];
  /** each at its reply's time */
  acks: readonly Ack[];
  /** each join answered without effect (refused, or its socket closed before the reply): +1 */
  voided: readonly Ack[];
}

/** One kind of change (joins or leaves) over a stretch of time. */
export interface ChangeCounts {
  /** sent in the stretch */
  sent: number;
  /** acknowledged in the stretch (whenever sent) */
  acked: number;
  /** answered without effect in the stretch */
  voided: number;
  /** sent by the stretch's end (whenever) and neither acknowledged nor voided by then */
  unanswered: number;
}

export interface ChangeTally {
  joins: ChangeCounts;
  leaves: ChangeCounts;
}

/** The room at one moment, as the acknowledged changes and as the changes sent give it. */
export interface RoomBounds {
  /** every change acknowledged by then (the truth the counts are judged against) */
  acked: number;
  /** every change sent by then, less the joins answered without effect by then */
  sent: number;
  unansweredJoins: number;
  unansweredLeaves: number;
}

const within = (list: readonly Ack[], delta: 1 | -1, from: number, until: number): number => {
  let n = 0;
  for (const c of list) if (c.delta === delta && c.t >= from && c.t <= until) n++;
  return n;
};

function countsOf(log: ChangeLog, delta: 1 | -1, from: number, until: number): ChangeCounts {
  const everSent = within(log.sent, delta, -Infinity, until);
  const everAnswered = within(log.acks, delta, -Infinity, until) + within(log.voided, delta, -Infinity, until);
  return {
    sent: within(log.sent, delta, from, until),
    acked: within(log.acks, delta, from, until),
    voided: within(log.voided, delta, from, until),
    // Never below 0: a reply's time can only follow its send's, but clocks are read per event.
    unanswered: Math.max(0, everSent - everAnswered),
  };
}

/** Joins and leaves sent, acknowledged and voided in `from`..`until` (ms), and unanswered at `until`. */
export function tallyChanges(log: ChangeLog, from: number, until: number): ChangeTally {
  return { joins: countsOf(log, 1, from, until), leaves: countsOf(log, -1, from, until) };
}

/** The room at `t` (ms): the acknowledged changes, and those plus the changes still unanswered. */
export function roomAt(log: ChangeLog, t: number): RoomBounds {
  const { joins, leaves } = tallyChanges(log, -Infinity, t);
  const acked = joins.acked - leaves.acked;
  return { acked, sent: acked + joins.unanswered - leaves.unanswered, unansweredJoins: joins.unanswered, unansweredLeaves: leaves.unanswered };
}
