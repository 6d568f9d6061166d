import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { roomAt, tallyChanges, type ChangeLog } from "../../bench/lib/change-accounting.js";
import type { Ack } from "../../bench/lib/count-staleness.js";
import { readScaleEvents } from "../../bench/lib/scale-client.js";

const join1 = (t: number): Ack => ({ t, delta: 1 });
const leave1 = (t: number): Ack => ({ t, delta: -1 });

describe("the presence-scale benchmark's joins and leaves sent, acknowledged and unanswered", () => {
  // Fill: two joins sent at 0, acknowledged at 10. Window from 100: a leave sent at 110 and
  // acknowledged at 120; joins sent at 130, 140, 150: the first acknowledged at 400 (held in a
  // backlog), the second refused at 160, the third never answered.
  const log: ChangeLog = {
    sent: [join1(0), join1(0), leave1(110), join1(130), join1(140), join1(150)],
    acks: [join1(10), join1(10), leave1(120), join1(400)],
    voided: [join1(160)],
  };

  it("counts the window's sends and acks, and the changes unanswered at its end", () => {
    expect(tallyChanges(log, 100, 200)).toEqual({
      joins: { sent: 3, acked: 0, voided: 1, unanswered: 2 },
      leaves: { sent: 1, acked: 1, voided: 0, unanswered: 0 },
    });
  });

  it("gives the room as acknowledged and as sent: the joins held count in the second only", () => {
    // At 200: acknowledged 2 − 1 = 1; sent adds the join at 130 and the one at 150, not the refused one.
    expect(roomAt(log, 200)).toEqual({ acked: 1, sent: 3, unansweredJoins: 2, unansweredLeaves: 0 });
  });

  it("moves a held join from the sent bound to the acknowledged one once its reply comes", () => {
    expect(roomAt(log, 500)).toEqual({ acked: 2, sent: 3, unansweredJoins: 1, unansweredLeaves: 0 });
    expect(tallyChanges(log, 100, Infinity).joins).toEqual({ sent: 3, acked: 1, voided: 1, unanswered: 1 });
  });

  it("takes a leave sent and not yet answered off the sent bound", () => {
    const leaving: ChangeLog = { sent: [join1(0), leave1(50)], acks: [join1(10)], voided: [] };
    expect(roomAt(leaving, 60)).toEqual({ acked: 1, sent: 0, unansweredJoins: 0, unansweredLeaves: 1 });
  });

  it("agrees with the acknowledged truth when every change was answered", () => {
    const answered: ChangeLog = { sent: [join1(0), join1(1), leave1(2)], acks: [join1(5), join1(6), leave1(7)], voided: [] };
    expect(roomAt(answered, 10)).toEqual({ acked: 1, sent: 1, unansweredJoins: 0, unansweredLeaves: 0 });
  });

  it("reads the client's events file: acks, sends, joins voided and counts (ns to ms)", () => {
    const dir = mkdtempSync(join(tmpdir(), "scale-events-"));
    try {
      const file = join(dir, "client.events");
      writeFileSync(file, ["a 2000000 1", "a 5000000 -1", "p 1000000 1", "p 4000000 -1", "p 6000000 1", "e 7000000 1", "s 3 8000000 41", ""].join("\n"));
      expect(readScaleEvents(file, 2)).toEqual({
        acks: [join1(2), leave1(5)],
        sent: [join1(1), leave1(4), join1(6)],
        voided: [join1(7)],
        counts: [{ client: "2:3", t: 8, keys: 41 }],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
