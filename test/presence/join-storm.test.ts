import { Presence, type Channel } from "phoenix";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { CinderServer } from "../../server/index.js";
import { ok, type ChannelHandler } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { socketUrl } from "../support/server.js";
import { waitFor } from "../support/wait.js";

const opened = perTest();

/** A room whose members carry a meta of `blob` bytes; `bump` replaces the meta with a new blob. */
function fatRoom(blob: number): ChannelHandler {
  return {
    join: (_topic, params, socket) => {
      socket.assigns.user = String(params.user);
      return ok();
    },
    afterJoin(socket) {
      socket.pushPresenceState();
      socket.track(socket.assigns.user as string, { blob: "x".repeat(blob) });
    },
    handleIn(event, payload, socket) {
      if (event !== "bump") return ok();
      const n = (payload as { n: number }).n;
      socket.updatePresence(socket.assigns.user as string, { blob: String(n).padEnd(blob, "y") });
      return ok();
    },
  };
}

/**
 * A member as phoenix.js sees the room: the official Presence fed by a bare socket, so that a
 * test can stop reading it. Counts the presence_state frames it got.
 */
class Member {
  readonly presence: Presence;
  states = 0;
  private handlers = new Map<string, (payload: unknown) => void>();
  private constructor(readonly ws: WebSocket) {
    const channel = { on: (event: string, callback: (payload: unknown) => void) => this.handlers.set(event, callback), joinRef: () => "1" };
    this.presence = new Presence(channel as unknown as Channel);
    ws.on("message", (data) => {
      const [, , , event, payload] = JSON.parse(data.toString()) as [unknown, unknown, string, string, unknown];
      if (event === "presence_state") this.states++;
      this.handlers.get(event)?.(payload);
    });
  }

  static async open(server: CinderServer): Promise<Member> {
    const ws = opened.keep(new WebSocket(socketUrl(server)), (socket) => socket.terminate());
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    return new Member(ws);
  }

  join(user: string): void {
    this.ws.send(JSON.stringify(["1", "1", "room:storm", "phx_join", { user }]));
  }

  /** What this member's list holds: key → its metas' refs, sorted. */
  view(): string {
    return this.presence
      .list((key: string, p: { metas: Array<{ phx_ref: string }> }) => `${key}:${p.metas.map((m) => m.phx_ref).sort().join("+")}`)
      .sort()
      .join(",");
  }
}

function serverView(server: CinderServer): string {
  return Object.entries(server.presence.list("room:storm"))
    .map(([key, p]) => `${key}:${p.metas.map((m) => m.phx_ref as string).sort().join("+")}`)
    .sort()
    .join(",");
}


describe("a whole room joining at once", () => {
  it("gives every member the full, correct list, from shared presence_state encodings and merged diffs", async () => {
    const server = await opened.server({ channels: { "room:*": fatRoom(64) }, maxPresencePerSecond: 0 });
    const members = await Promise.all(Array.from({ length: 300 }, () => Member.open(server)));
    members.forEach((member, i) => member.join(`u${i}`));
    await waitFor(() => Object.keys(server.presence.list("room:storm")).length === 300, "all 300 tracked", 20_000);
    const truth = serverView(server);
    await waitFor(() => members.every((member) => member.view() === truth), "every member's list to match the server's", 30_000);

    const sent = await metricOf(server, "cinder_presence_states_sent_total", { reason: "join" });
    const encodings = await metricOf(server, "cinder_presence_state_encodings_total");
    expect(sent).toBe(300);
    // Members asking in the same window share one encoding.
    expect(encodings).toBeLessThan(sent);
    expect(await metricOf(server, "cinder_presence_diffs_merged_total")).toBeGreaterThan(0);
    expect(await metricOf(server, "cinder_presence_state_waiting")).toBe(0);
  });

  it("never hands uWS more of a big list than one part for a member whose client stops reading", async () => {
    const server = await opened.server({ channels: { "room:*": fatRoom(64) }, maxPresencePerSecond: 0 });
    // 100 presences of 100 KB each, tracked by the server itself: a 10 MB list, far more than
    // a socket's kernel buffers take from a client that reads nothing.
    for (let i = 0; i < 100; i++) server.presence.track("server", "room:storm", `big${i}`, { blob: "x".repeat(100_000) });
    const paused = await Member.open(server);
    paused.ws.pause();
    paused.join("paused");
    // The list goes out until the kernel takes no more, then waits for the client: what uWS
    // holds for the socket is the rest of one part at most, not the rest of the list.
    await waitFor(async () => (await metricOf(server, "cinder_buffered_bytes")) > 0, "the paused member's socket to fill up", 20_000);
    expect(await metricOf(server, "cinder_buffered_bytes")).toBeLessThanOrEqual(200_000);
    expect(await metricOf(server, "cinder_presence_state_waiting")).toBe(1);

    paused.ws.resume();
    await waitFor(() => paused.view() === serverView(server), "the paused member's list once it reads again", 20_000);
    expect(paused.states).toBe(1);
    expect(await metricOf(server, "cinder_presence_state_waiting")).toBe(0);
  });

  it("sends a member that stopped reading a fresh presence_state instead of its diff backlog", async () => {
    const server = await opened.server({ channels: { "room:*": fatRoom(16 * 1024) }, maxPresencePerSecond: 0, presenceResyncBytes: 1024 });
    const slow = await Member.open(server);
    const busy = await Member.open(server);
    slow.join("slow");
    busy.join("busy");
    await waitFor(() => slow.states === 1 && slow.view() === serverView(server) && busy.view() === serverView(server), "both to see both");

    // The slow member's client stops reading; the room keeps changing until its unread diffs
    // are past presenceResyncBytes and it is taken off them.
    slow.ws.pause();
    for (let n = 0; (await metricOf(server, "cinder_presence_fell_behind_total")) === 0; n++) {
      if (n > 5000) throw new Error("the paused member never fell behind");
      await new Promise((resolve) => {
        busy.ws.send(JSON.stringify(["1", `b${n}`, "room:storm", "bump", { n }]));
        busy.ws.once("message", resolve);
      });
    }
    const diffsBefore = await metricOf(server, "cinder_presence_diffs_withheld_total");
    busy.ws.send(JSON.stringify(["1", "last", "room:storm", "bump", { n: -1 }]));
    await waitFor(async () => (await metricOf(server, "cinder_presence_diffs_withheld_total")) > diffsBefore, "a diff withheld from the slow member");

    slow.ws.resume();
    await waitFor(async () => (await metricOf(server, "cinder_presence_states_sent_total", { reason: "resync" })) === 1, "a fresh state for the slow member", 20_000);
    await waitFor(() => slow.states === 2 && slow.view() === serverView(server), "the slow member to converge on its fresh state", 20_000);
    expect(busy.states).toBe(1);
  });
});
