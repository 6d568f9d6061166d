import { Presence, type Channel } from "phoenix";
import { describe, expect, it } from "vitest";
import type { CinderServer } from "../../server/index.js";
import { ok } from "../../server/index.js";
import { roomChannel } from "../../server/demo/room-channel.js";
import { perTest } from "../support/opened.js";
import { joined as joinedChannel } from "../support/phoenix-channel.js";
import { waitFor } from "../support/wait.js";

const opened = perTest();

/** A phoenix.js client of `server` in a room, with its Presence and what its callbacks saw. */
function member(server: CinderServer, user: string) {
  const socket = opened.phoenix(server.port);
  const channel: Channel = socket.channel("room:presence", { user });
  const presence = new Presence(channel);
  const seen = { joins: [] as string[], leaves: [] as string[], syncs: 0 };
  presence.onJoin((key, current) => {
    if (!current) seen.joins.push(key as string);
  });
  presence.onLeave((key, current) => {
    if ((current as { metas: unknown[] }).metas.length === 0) seen.leaves.push(key as string);
  });
  presence.onSync(() => void seen.syncs++);
  const joined = joinedChannel(channel);
  const users = () =>
    presence
      .list((key, p) => `${key}×${(p as { metas: unknown[] }).metas.length}`)
      .sort()
      .join(",");
  return { socket, channel, presence, seen, joined, users };
}

describe("presence over a real socket, seen through phoenix.js Presence", () => {
  it("shows exactly who is present as clients join, open a second tab, leave and disconnect", async () => {
    const server = await opened.server();
    const ada = member(server, "ada");
    await ada.joined;
    await waitFor(() => ada.users() === "ada×1", "ada to see herself");

    const bob = member(server, "bob");
    await bob.joined;
    await waitFor(() => ada.users() === "ada×1,bob×1" && bob.users() === "ada×1,bob×1", "both to see both");

    const adaTab2 = member(server, "ada");
    await adaTab2.joined;
    await waitFor(() => bob.users() === "ada×2,bob×1", "a second tab to add a meta");
    // For bob, ada joined once (in his presence_state); her second tab is not a new join.
    expect(bob.seen.joins.filter((k) => k === "ada")).toEqual(["ada"]);

    bob.channel.leave();
    await waitFor(() => ada.users() === "ada×2", "bob's leave to reach ada");
    expect(ada.seen.leaves).toEqual(["bob"]);

    adaTab2.socket.disconnect();
    await waitFor(() => ada.users() === "ada×1", "the closed tab to drop its meta");
    expect(ada.seen.joins).toEqual(["ada", "bob"]);
  });

  it("sends presence_state after the join reply, metas carrying phx_ref", async () => {
    const server = await opened.server();
    const first = member(server, "first");
    await first.joined;
    const raw = await opened.raw(server);
    raw.send(["7", "7", "room:presence", "phx_join", { user: "raw" }]);
    const state = await raw.next((f) => f[3] === "presence_state");
    const replyIndex = raw.frames.findIndex((f) => f[3] === "phx_reply");
    expect(replyIndex).toBeGreaterThanOrEqual(0);
    expect(raw.frames.findIndex((f) => f[3] === "presence_state")).toBeGreaterThan(replyIndex);
    expect(state[0]).toBe("7");
    expect(state[1]).toBeNull();
    const metas = (state[4] as Record<string, { metas: Array<Record<string, unknown>> }>).first.metas;
    expect(metas).toHaveLength(1);
    expect(typeof metas[0].phx_ref).toBe("string");
    expect(typeof metas[0].online_at).toBe("string");
    const diff = await raw.next((f) => f[3] === "presence_diff" && "raw" in (f[4] as { joins: object }).joins);
    expect(diff[0]).toBeNull();
    expect(diff[1]).toBeNull();
  });

  it("reports an update as one diff: the new meta joins, the old one leaves, with phx_ref_prev", async () => {
    const server = await opened.server({
      channels: {
        "room:*": {
          ...roomChannel,
          handleIn: (event, payload, socket) => {
            if (event !== "status") return roomChannel.handleIn!(event, payload, socket as Parameters<NonNullable<typeof roomChannel.handleIn>>[2], { topic: "", joinRef: "", ref: null });
            const result = socket.updatePresence(socket.assigns.user as string, (old) => ({ ...old, status: (payload as { status: string }).status }));
            return result.ok ? ok() : ok({ failed: result.reason });
          },
        },
      },
    });
    const watcher = await opened.joinedClient(server, "room:presence", { user: "watcher" });
    const ada = member(server, "ada");
    await ada.joined;
    const joinDiff = await watcher.next((f) => f[3] === "presence_diff" && "ada" in (f[4] as { joins: object }).joins);
    const firstRef = (joinDiff[4] as { joins: { ada: { metas: Array<{ phx_ref: string }> } } }).joins.ada.metas[0].phx_ref;

    await new Promise((resolve) => ada.channel.push("status", { status: "away" }).receive("ok", resolve));
    const update = await watcher.next((f) => f[3] === "presence_diff" && "ada" in (f[4] as { leaves: object }).leaves);
    const { joins, leaves } = update[4] as Record<string, Record<string, { metas: Array<Record<string, unknown>> }>>;
    expect(leaves.ada.metas.map((m) => m.phx_ref)).toEqual([firstRef]);
    expect(joins.ada.metas).toHaveLength(1);
    expect(joins.ada.metas[0]).toMatchObject({ status: "away", phx_ref_prev: firstRef });
    expect(joins.ada.metas[0].phx_ref).not.toBe(firstRef);
    await waitFor(() => ada.presence.list((_k, p) => (p as { metas: Array<{ status?: string }> }).metas[0].status)[1] === "away", "ada's client to apply the update");
    expect(ada.users()).toBe("ada×1,watcher×1");
  });

  it("stays out of presence with {presence: false}", async () => {
    const server = await opened.server();
    await opened.joinedClient(server, "room:quiet", { user: "ghost", presence: false });
    expect(server.presence.list("room:quiet")).toEqual({});
  });
});
