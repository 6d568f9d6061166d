import fc from "fast-check";
import { Presence, type Channel } from "phoenix";
import { describe, expect, it, vi } from "vitest";
import { msgpackSerializer } from "../../client/codec/msgpack.js";
import { jsonSerializer, type Serializer } from "../../client/codec/serializer.js";
import { presenceMetrics } from "../../server/presence/presence-metrics.js";
import { emptyPresenceMap, type Meta, type PresenceDiff, type PresenceMap } from "../../server/presence/diff.js";
import { MAX_STREAMS, STALL_MS } from "../../server/presence/catch-up-turns.js";
import { PresenceStates, type StateFrame, type StateMember, type StateMemberSocket } from "../../server/presence/presence-states.js";
import { PART_BYTES } from "../../server/presence/state-parts.js";
import { FirstSync, type FirstSyncView } from "../../server/presence/first-sync.js";
import { CORK_FIT_BATCH_BYTES } from "../../server/presence/catch-up-batch.js";
import type { Subscriber } from "../../server/pubsub/subscriber.js";
import { metricGroup, metricOf } from "../support/metrics.js";
import { waitFor } from "../support/wait.js";

const TOPIC = "room:big";
/** Each meta carries this much: 40 members make a list of several parts. */
const BLOB = 2000;

/**
 * A member's socket that takes frames only while `open`, as one whose kernel buffer is full
 * until its client reads, and feeds every frame to phoenix.js's Presence as the client would.
 */
class FakeSocket implements StateMemberSocket {
  open = true;
  /** Writes it takes before it blocks by itself (its kernel buffer fills). */
  writesLeft = Infinity;
  /** Every frame it got, as JSON text (msgpack frames decoded). */
  readonly frames: string[] = [];
  /** Parts of the list (presence_state, and presence_diffs that only join) in each write. */
  readonly partsPerWrite: number[] = [];
  private handlers = new Map<string, (payload: unknown) => void>();
  readonly presence: Presence;

  constructor(
    readonly id: string,
    readonly serializer: Serializer = jsonSerializer,
  ) {
    const channel = { on: (event: string, callback: (payload: unknown) => void) => this.handlers.set(event, callback), joinRef: () => "1" };
    this.presence = new Presence(channel as unknown as Channel);
  }

  // Only a subscriber behind (pubsub/behind-subscribers.ts) is sent frames one by one.
  send(): boolean {
    return true;
  }
  sendJsonFrame(): void {}
  closeSlow(): void {}

  get bufferedBytes(): number {
    return 0;
  }

  get canTakeMore(): boolean {
    return this.open && this.writesLeft > 0;
  }

  sendFrames(frames: readonly StateFrame[]): void {
    this.writesLeft--;
    const before = this.frames.length;
    for (const { head, data, binary } of frames) {
      if (!binary) this.receive(`${(head as string | undefined) ?? ""}${Buffer.from(data).toString()}`);
      else this.receive(Buffer.concat([(head as Uint8Array | undefined) ?? new Uint8Array(), data]));
    }
    this.partsPerWrite.push(this.frames.slice(before).filter((frame) => frame.includes('"presence_state"') || frame.includes('"leaves":{}}]')).length);
  }

  /** A frame as the client reads it, in this socket's serializer. */
  receive(raw: string | Uint8Array): void {
    const { topic, event, payload } = this.serializer.decode(raw, "toClient");
    this.frames.push(JSON.stringify([null, null, topic, event, payload]));
    expect(topic).toBe(TOPIC);
    this.handlers.get(event)?.(payload);
  }

  subscribe(): void {}
  unsubscribe(): void {}
  publishFrom(): boolean {
    return true;
  }
}

/** A room as the server keeps it: the true list, its members, and which of them get the diffs. */
class Room {
  readonly truth = emptyPresenceMap();
  readonly members = new Map<string, StateMember & { socket: FakeSocket }>();
  readonly quiet = new Set<Subscriber>();
  readonly metrics = metricGroup(presenceMetrics);
  readonly states: PresenceStates;
  private refs = 0;

  constructor(
    resyncBytes = 256 * 1024,
    private readonly serializer: Serializer = jsonSerializer,
    firstSync?: FirstSyncView,
    batchBytes = CORK_FIT_BATCH_BYTES,
  ) {
    this.states = new PresenceStates({
      snapshot: () => JSON.parse(JSON.stringify(this.truth)) as PresenceMap,
      setQuiet: (member, quiet) => {
        if (!member.attached) return false;
        if (quiet) this.quiet.add(member);
        else this.quiet.delete(member);
        return true;
      },
      resyncBytes,
      firstSync,
      batchBytes,
      metrics: this.metrics,
    });
  }

  /** As a room channel does: joined (getting the diffs), asks for its state, then tracks itself. */
  join(key: string): void {
    const socket = new FakeSocket(key, this.serializer);
    const member: StateMember & { socket: FakeSocket } = { topic: TOPIC, handler: {}, socket, joinRef: "1", attached: true, deliverOut: () => {} };
    this.members.set(key, member);
    this.states.request(member);
    this.change({ joins: { [key]: { metas: [this.meta()] } }, leaves: {} });
  }

  /** A presence tracked by the server itself (no member socket). */
  track(key: string): void {
    this.change({ joins: { [key]: { metas: [this.meta()] } }, leaves: {} });
  }

  leave(key: string): void {
    const member = this.members.get(key);
    if (!member) return;
    this.members.delete(key);
    member.attached = false;
    this.quiet.delete(member);
    this.states.forget(member);
    this.change({ joins: {}, leaves: { [key]: this.truth[key] } });
  }

  /** A new meta for `key` (Presence.update): its old ref leaves, the new one joins, in one diff. */
  update(key: string): void {
    if (!this.truth[key]) return;
    this.change({ joins: { [key]: { metas: [this.meta()] } }, leaves: { [key]: this.truth[key] } });
  }

  setOpen(key: string, open: boolean): void {
    const member = this.members.get(key);
    if (!member) return;
    member.socket.open = open;
    if (open) this.states.drained(member.socket);
  }

  /** Every member's list, as its client sees it, against the truth. */
  converged(): boolean {
    const truth = view(this.truth);
    return [...this.members.values()].every((member) => clientView(member.socket.presence) === truth);
  }

  sees(key: string): boolean {
    return clientView(this.members.get(key)!.socket.presence) === view(this.truth);
  }

  private change(diff: PresenceDiff): void {
    for (const key in diff.leaves) delete this.truth[key];
    Object.assign(this.truth, diff.joins);
    this.states.beforeDiff(TOPIC, diff);
    const frame = { joinRef: null, ref: null, topic: TOPIC, event: "presence_diff", payload: { joins: diff.joins, leaves: diff.leaves } };
    for (const member of this.members.values()) if (!this.quiet.has(member)) member.socket.receive(member.socket.serializer.encode(frame, "toClient").data);
  }

  private meta(): Meta {
    return { phx_ref: `r${++this.refs}`, blob: "x".repeat(BLOB) };
  }
}

function view(map: PresenceMap): string {
  return Object.entries(map)
    .map(([key, p]) => `${key}:${p.metas.map((m) => m.phx_ref as string).join("+")}`)
    .sort()
    .join(",");
}

function clientView(presence: Presence): string {
  return presence
    .list((key: string, p: { metas: Array<{ phx_ref: string }> }) => `${key}:${p.metas.map((m) => m.phx_ref).join("+")}`)
    .sort()
    .join(",");
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));


type Step = { op: "join" | "leave" | "update" | "block" | "unblock"; member: number } | { op: "turn" };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constantFrom("join", "leave", "update", "block", "unblock"), member: fc.integer({ min: 0, max: 59 }) }) as fc.Arbitrary<Step>,
  fc.constant<Step>({ op: "turn" }),
);

describe("presence catch-ups", () => {
  it("send a big list in parts that fit uWS's cork buffer, and one snapshot to everyone who asks at once", async () => {
    const room = new Room();
    for (let i = 0; i < 40; i++) room.join(`u${i}`);
    await waitFor(() => room.converged(), "every member's list to match");
    const late = "late";
    room.join(late);
    await waitFor(() => room.converged(), "the late member's list to match");
    const frames = room.members.get(late)!.socket.frames;
    const state = frames.findIndex((frame) => frame.includes('"presence_state"'));
    // One presence_state with the first keys, then presence_diffs joining the rest.
    expect(frames.filter((frame) => frame.includes('"presence_state"'))).toHaveLength(1);
    expect(frames.length - state).toBeGreaterThan(4);
    for (const frame of frames) expect(Buffer.byteLength(frame)).toBeLessThan(PART_BYTES + 200);
    // The 40 who asked in the same turn shared snapshots; the late one may reuse the last.
    expect(await metricOf(room.metrics, "cinder_presence_state_encodings_total")).toBeLessThan(5);
    expect(await metricOf(room.metrics, "cinder_presence_state_waiting")).toBe(0);
  });

  it("write one part at a time by default, and several at once when the batch holds them", async () => {
    const lateParts = async (batchBytes: number): Promise<number[]> => {
      const room = new Room(256 * 1024, jsonSerializer, undefined, batchBytes);
      for (let i = 0; i < 40; i++) room.track(`u${i}`);
      room.join("late");
      await waitFor(() => room.converged(), "the late member's list to match");
      return room.members.get("late")!.socket.partsPerWrite;
    };
    const byDefault = await lateParts(CORK_FIT_BATCH_BYTES);
    expect(byDefault.length).toBeGreaterThan(4);
    expect(Math.max(...byDefault)).toBe(1);
    const bigger = await lateParts(4 * CORK_FIT_BATCH_BYTES);
    expect(Math.max(...bigger)).toBeGreaterThanOrEqual(3);
    expect(bigger.reduce((a, b) => a + b, 0)).toBe(byDefault.reduce((a, b) => a + b, 0));
  });

  it("send msgpack members the same list, in msgpack parts", async () => {
    const room = new Room(256 * 1024, msgpackSerializer);
    for (let i = 0; i < 40; i++) room.join(`u${i}`);
    await waitFor(() => room.converged(), "every msgpack member's list to match");
    room.join("late");
    await waitFor(() => room.converged(), "the late member's list to match");
    expect(room.members.get("late")!.socket.frames.filter((frame) => frame.includes('"presence_diff"')).length).toBeGreaterThan(4);
  });

  it("hold every member's list to the truth, however joins, leaves, updates and blocked sockets interleave", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 120 }), async (steps) => {
        const room = new Room();
        for (let i = 0; i < 20; i++) room.join(`u${i}`);
        for (const s of steps) {
          if (s.op === "turn") await nextTurn();
          else if (s.op === "join" && !room.members.has(`u${s.member}`)) room.join(`u${s.member}`);
          else if (s.op === "leave") room.leave(`u${s.member}`);
          else if (s.op === "update") room.update(`u${s.member}`);
          else if (s.op === "block" || s.op === "unblock") room.setOpen(`u${s.member}`, s.op === "unblock");
        }
        for (const key of room.members.keys()) room.setOpen(key, true);
        await waitFor(() => room.converged(), "every member's list to match the truth");
        expect(await metricOf(room.metrics, "cinder_presence_state_waiting")).toBe(0);
        room.states.stop();
      }),
      { numRuns: 40 },
    );
  });

  it("start a member again from a fresh list when the room's log dropped diffs it still needed", async () => {
    const room = new Room();
    for (let i = 0; i < 40; i++) room.join(`u${i}`);
    await waitFor(() => room.converged(), "every member's list to match");
    // A newcomer whose client reads its first part, then nothing, while the room changes by
    // more than four lists' worth of diffs.
    const slow = "slow";
    room.join(slow);
    const socket = room.members.get(slow)!.socket;
    socket.writesLeft = 1;
    await waitFor(() => socket.frames.length > 0, "the slow member's first frames");
    expect(socket.frames.some((frame) => frame.includes('"presence_state"'))).toBe(true);
    for (let n = 0; n < 200; n++) room.update(`u${n % 40}`);
    expect(await metricOf(room.metrics, "cinder_presence_state_restarts_total", { reason: "log" })).toBe(0);
    socket.writesLeft = Infinity;
    room.setOpen(slow, true);
    await waitFor(() => room.converged(), "the slow member's list to match after starting again");
    expect(await metricOf(room.metrics, "cinder_presence_state_restarts_total", { reason: "log" })).toBe(1);
    expect(socket.frames.filter((frame) => frame.includes('"presence_state"'))).toHaveLength(2);
    // Its log was bounded meanwhile: at most four lists and the snapshots being sent.
    expect(await metricOf(room.metrics, "cinder_presence_state_bytes_held")).toBe(0);
  });

  it("let the next member through when clients that stopped reading hold every stream", async () => {
    vi.useFakeTimers();
    const room = new Room();
    try {
      for (let i = 0; i < 40; i++) room.track(`big${i}`);
      // Clients that read their first batch, then nothing, as many as there are streams.
      for (let i = 0; i < MAX_STREAMS; i++) {
        room.join(`stuck${i}`);
        room.members.get(`stuck${i}`)!.socket.writesLeft = 1;
      }
      room.join("late");
      await vi.advanceTimersByTimeAsync(STALL_MS / 2);
      expect(room.sees("late")).toBe(false);
      // The stuck streams give up their turn; the late member is next in line.
      await vi.advanceTimersByTimeAsync(STALL_MS);
      expect(room.sees("late")).toBe(true);
      expect(await metricOf(room.metrics, "cinder_presence_state_restarts_total", { reason: "stalled" })).toBe(MAX_STREAMS);
    } finally {
      room.states.stop();
      vi.useRealTimers();
    }
  });

  it("wait for the replica's first sync, then send a list that holds what it brought", async () => {
    const sync = new FirstSync(60_000);
    const room = new Room(undefined, undefined, sync);
    try {
      room.join("first");
      room.join("second");
      room.join("gone");
      room.leave("gone");
      await nextTurn();
      // Nothing yet, not even diffs: a list now would lack the other replicas' presences.
      for (const member of room.members.values()) expect(member.socket.frames).toEqual([]);
      expect(await metricOf(room.metrics, "cinder_presence_state_sync_waits_total")).toBe(3);
      expect(await metricOf(room.metrics, "cinder_presence_state_waiting")).toBe(2);
      // The other replicas' presences arrive, then the first sync is over.
      for (let i = 0; i < 10; i++) room.track(`remote${i}`);
      sync.listed();
      await waitFor(() => room.converged(), "every waiting member's list to match");
      // Each one's first frame is its presence_state (the parts that follow join the rest of the list).
      for (const member of room.members.values()) expect(member.socket.frames[0].startsWith('[null,null,"room:big","presence_state"')).toBe(true);
      expect(await metricOf(room.metrics, "cinder_presence_state_waiting")).toBe(0);
      // Once it is over, members are sent their list at once.
      room.join("later");
      await waitFor(() => room.sees("later"), "a later member's list");
      expect(await metricOf(room.metrics, "cinder_presence_state_sync_waits_total")).toBe(3);
    } finally {
      room.states.stop();
    }
  });
});
