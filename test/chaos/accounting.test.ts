/**
 * The chaos accounting (bench/lib/chaos/accounting.ts) on runs written by hand: each loss it
 * names is counted when it happens and only then. Times are plain milliseconds.
 */
import { describe, expect, it } from "vitest";

import { account, type WindowCounts } from "../../bench/lib/chaos/accounting.js";
import { type ClientRecord, type EpochLog, type JoinRecord, Ledger, type Position, type PushStatus, type Recovery, type Segment, type Stored } from "../../bench/lib/chaos/ledger.js";

const ROOM = "room:r";
const SETTLE_MS = 1000;

interface Client extends ClientRecord {
  readonly joins: JoinRecord[];
  readonly segments: Segment[];
}

/** A run: pushes, what Redis stored, clients with their joins and deliveries. */
class Run {
  readonly ledger = new Ledger();
  readonly streams = { epochs: new Map<string, EpochLog[]>(), stored: new Map<number, Stored>() };
  readonly clients: Client[] = [];

  client(): Client {
    const client: Client = { plan: { index: this.clients.length, room: ROOM }, joins: [], segments: [], statsAt: [] };
    this.clients.push(client);
    return client;
  }

  /** A push by client 0 sent at `at`, answered `status` 5 ms later; returns its index. */
  push(at: number, status: PushStatus = "ok"): number {
    const push = this.ledger.addPush(`u0.${this.ledger.pushes.length + 1}`, ROOM, 0, at);
    push.status = status;
    push.repliedAt = at + 5;
    return push.index;
  }

  /** Redis stored `message` at `offset` of `epoch`, an epoch first seen at `firstSeen`. */
  store(message: number, epoch: string, offset: number, firstSeen = 0): void {
    const logs = this.streams.epochs.get(ROOM) ?? [];
    let log = logs.find((l) => l.epoch === epoch);
    if (!log) logs.push((log = { epoch, firstSeen, entries: new Map() }));
    this.streams.epochs.set(ROOM, logs);
    log.entries.set(offset, message);
    this.streams.stored.set(message, { epoch, offset });
  }

  /** A join reply at `at` (after `since`, when it sent one); its segment. */
  join(client: Client, at: number, recovery: Recovery, since: Position | null = null): Segment {
    const join: JoinRecord = { client: client.plan.index, at, since, status: "ok", recovery, node: 0 };
    client.joins.push(join);
    const segment: Segment = { join, start: at, messages: [], offsets: [], epochs: [], times: [] };
    client.segments.push(segment);
    return segment;
  }

  receive(segment: Segment, message: number, at: number): void {
    segment.messages.push(message);
    segment.offsets.push(this.streams.stored.get(message)?.offset ?? -1);
    segment.epochs.push(undefined); // the payloads of today carry no _e
    segment.times.push(at);
  }

  /** The counts of one window over the whole run, or of windows starting at `starts`. */
  account(starts: number[] = [0], endAt = 10_000): WindowCounts[] {
    const windows = starts.map((start, i) => ({ label: `w${i}`, start }));
    return account({ ledger: this.ledger, clients: this.clients, streams: this.streams, windows, settleMs: SETTLE_MS, endAt }).windows;
  }
}

const fresh = (e: string, o = 0): Recovery => ({ recovered: false, o, e });

const lossesOf = (w: WindowCounts) => ({
  missingConnected: w.missingConnected,
  missingConnectedMessages: w.missingConnectedMessages,
  missingRecovered: w.missingRecovered,
  refused: w.refused,
  ackedUndelivered: w.ackedUndelivered,
  duplicates: w.duplicates,
  outOfOrder: w.outOfOrder,
});
const NONE = lossesOf(new Run().account()[0]);

describe("chaos accounting", () => {
  it("counts nothing when every member got every message once, in order", () => {
    const run = new Run();
    const segments = [run.client(), run.client()].map((c) => run.join(c, 0, fresh("E1")));
    for (let i = 1; i <= 3; i++) {
      const m = run.push(100 * i);
      run.store(m, "E1", i);
      for (const s of segments) run.receive(s, m, 100 * i + 10);
    }
    const [w] = run.account();
    expect(lossesOf(w)).toEqual(NONE);
    expect(w).toMatchObject({ pushes: 3, acked: 3, ackedUnseen: 0 });
  });

  it("an ok for a message Redis never stored: missing for each member that stayed joined, and delivered to no one", () => {
    const run = new Run();
    for (const c of [run.client(), run.client()]) run.join(c, 0, fresh("E1"));
    run.push(100);
    const [w] = run.account();
    expect(lossesOf(w)).toEqual({ ...NONE, missingConnected: 2, missingConnectedMessages: 1, ackedUndelivered: 1 });
    expect(w.ackedUnseen).toBe(1);
  });

  it("counts a message in the window its push was sent in", () => {
    const run = new Run();
    run.join(run.client(), 0, fresh("E1"));
    run.push(100);
    run.push(3000);
    const windows = run.account([0, 2000]);
    expect(windows.map((w) => w.ackedUndelivered)).toEqual([1, 1]);
    expect(windows.map((w) => w.pushes)).toEqual([1, 1]);
  });

  it("a client cut within settleMs of the ok that gets the message from its recovery loses nothing", () => {
    const run = new Run();
    const [cut, stays] = [run.client(), run.client()];
    const first = run.join(cut, 0, fresh("E1"));
    const other = run.join(stays, 0, fresh("E1"));
    const m = run.push(100);
    run.store(m, "E1", 1);
    run.receive(other, m, 110);
    first.end = 500;
    const rejoined = run.join(cut, 700, { recovered: true, o: 1, e: "E1" }, { o: 0, e: "E1" });
    run.receive(rejoined, m, 710);
    const [w] = run.account();
    expect(lossesOf(w)).toEqual(NONE);
    expect(w).toMatchObject({ rejoins: 1, recovered: 1 });
  });

  it("the first offsets of a new epoch, missed by a client that stayed joined, are missing even unacked", () => {
    const run = new Run();
    const [late, early] = [run.client(), run.client()].map((c) => run.join(c, 0, fresh("E1")));
    const messages = [1, 2, 3].map((offset) => {
      const m = run.push(1000 + offset, "timeout");
      run.store(m, "E2", offset, 1000);
      run.receive(early, m, 1100 + offset);
      return m;
    });
    run.receive(late, messages[2], 1200);
    const [w] = run.account();
    expect(lossesOf(w)).toEqual({ ...NONE, missingConnected: 2, missingConnectedMessages: 2 });
  });

  it("a recovered rejoin that leaves out an offset of its range", () => {
    const run = new Run();
    const [a, b] = [run.client(), run.client()];
    const first = run.join(a, 0, fresh("E1"));
    const other = run.join(b, 0, fresh("E1"));
    const messages = [1, 2, 3].map((offset) => {
      const m = run.push(100 * offset);
      run.store(m, "E1", offset);
      run.receive(other, m, 100 * offset + 10);
      return m;
    });
    run.receive(first, messages[0], 110);
    first.end = 150;
    const rejoined = run.join(a, 1000, { recovered: true, o: 3, e: "E1" }, { o: 1, e: "E1" });
    run.receive(rejoined, messages[2], 1010);
    const [w] = run.account();
    expect(lossesOf(w)).toEqual({ ...NONE, missingRecovered: 1 });
  });

  it("a refused rejoin, and what Redis held past the client's real position", () => {
    const run = new Run();
    const a = run.client();
    const first = run.join(a, 0, fresh("E1"));
    const messages = [1, 2, 3].map((offset) => {
      const m = run.push(1000 + 100 * offset, "timeout");
      run.store(m, "E2", offset, 1000);
      return m;
    });
    run.receive(first, messages[0], 1110); // offset 1 of the new epoch: the client still says E1
    first.end = 1150;
    run.join(a, 2000, fresh("E2", 3), { o: 1, e: "E1" });
    const [w] = run.account();
    expect(lossesOf(w)).toEqual({ ...NONE, refused: 1 });
    expect(w).toMatchObject({ rejoins: 1, recovered: 0, notReplayed: 2 });
  });

  it("an extra copy is a duplicate; a lower offset after a higher one is out of order", () => {
    const run = new Run();
    const segment = run.join(run.client(), 0, fresh("E1"));
    const [m1, m2] = [1, 2].map((offset) => {
      const m = run.push(100 * offset);
      run.store(m, "E1", offset);
      return m;
    });
    run.receive(segment, m1, 110);
    run.receive(segment, m2, 210);
    run.receive(segment, m1, 220);
    const [w] = run.account();
    expect(lossesOf(w)).toEqual({ ...NONE, duplicates: 1, outOfOrder: 1 });
  });
});
