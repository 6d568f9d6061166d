import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Ack } from "../../bench/lib/count-staleness.js";
import { RoomBand } from "../../bench/lib/room-bounds.js";

const join = (t: number): Ack => ({ t, delta: 1 });
const leave = (t: number): Ack => ({ t, delta: -1 });

describe("the room's band (joins and leaves between their send and their reply)", () => {
  it("holds a count of a join sent and not yet answered, where the acknowledged changes alone do not", () => {
    const band = new RoomBand({ sent: [join(100)], acks: [join(600)], voided: [] });
    expect(band.ageOf(1, 300)).toBe(0);
    expect(band.ageOf(0, 300)).toBe(0);
    expect(band.ageOf(1, 2000)).toBe(0);
    // 0 was last possible until the reply at 600.
    expect(band.ageOf(0, 2000)).toBe(1400);
    expect(band.ageOf(2, 2000)).toBeNaN();
    expect(band.ageOf(0, 50)).toBe(0);
  });

  it("takes a leave from its send for the low bound and from its reply for the high one, and a void from the high one", () => {
    const band = new RoomBand({ sent: [join(0), join(10), leave(1000)], acks: [join(20), leave(1100)], voided: [join(30)] });
    expect(band.ageOf(1, 1050)).toBe(0);
    expect(band.ageOf(0, 1050)).toBe(0);
    expect(band.ageOf(2, 1050)).toBe(1020);
    expect(band.ageOf(1, 5000)).toBe(3900);
  });

  it("finds the last moment the band held a value, as a scan of every step does", () => {
    const change = fc.record({ delta: fc.constantFrom<1 | -1>(1, -1), sentAt: fc.integer({ min: 0, max: 1000 }), replyAfter: fc.integer({ min: 0, max: 300 }), voided: fc.boolean(), answered: fc.boolean() });
    fc.assert(
      fc.property(fc.array(change, { maxLength: 40 }), fc.array(fc.tuple(fc.integer({ min: -3, max: 6 }), fc.integer({ min: 0, max: 1500 })), { maxLength: 20 }), (changes, queries) => {
        const sent: Ack[] = [];
        const acks: Ack[] = [];
        const voided: Ack[] = [];
        for (const c of changes) {
          sent.push({ t: c.sentAt, delta: c.delta });
          if (!c.answered) continue;
          if (c.delta === 1 && c.voided) voided.push(join(c.sentAt + c.replyAfter));
          else acks.push({ t: c.sentAt + c.replyAfter, delta: c.delta });
        }
        const band = new RoomBand({ sent, acks, voided });
        for (const [value, t] of queries) expect(band.ageOf(value, t)).toEqual(scan({ sent, acks, voided }, value, t));
      }),
    );
  });
});

/** The same by brute force: the band after each change, in time order, ties in the order RoomBand takes them. */
function scan(log: { sent: Ack[]; acks: Ack[]; voided: Ack[] }, value: number, t: number): number {
  const moves = [
    ...log.sent.map((c) => ({ t: c.t, low: c.delta === 1 ? 0 : -1, high: c.delta === 1 ? 1 : 0 })),
    ...log.acks.map((c) => ({ t: c.t, low: c.delta === 1 ? 1 : 0, high: c.delta === 1 ? 0 : -1 })),
    ...log.voided.map((c) => ({ t: c.t, low: 0, high: -1 })),
  ].sort((a, b) => a.t - b.t);
  let low = 0;
  let high = 0;
  let lastEnd = NaN;
  let holdsNow = low <= value && value <= high;
  for (const m of moves) {
    if (m.t > t) break;
    if (holdsNow) lastEnd = m.t;
    low += m.low;
    high += m.high;
    holdsNow = low <= value && value <= high;
  }
  return holdsNow ? 0 : t - lastEnd;
}
