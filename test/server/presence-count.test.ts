import { Presence, type Channel } from "phoenix";
import { describe, expect, it } from "vitest";
import type { ChannelHandler, CinderServer } from "../../server/index.js";
import { ok } from "../../server/index.js";
import { roomChannel } from "../../server/demo/room-channel.js";
import { perTest } from "../support/opened.js";
import { joined } from "../support/phoenix-channel.js";
import { waitFor } from "../support/wait.js";

const opened = perTest();

type Count = { keys: number; metas: number };

/** The demo room, plus `count`: the server's own `socket.presenceCount()`. */
const room: ChannelHandler = {
  ...(roomChannel as unknown as ChannelHandler),
  handleIn(event, payload, socket, ref) {
    if (event === "count") return ok({ ...socket.presenceCount(), mode: socket.presenceMode });
    return (roomChannel as unknown as ChannelHandler).handleIn!(event, payload, socket, ref);
  },
};

const open = (server: CinderServer) => opened.phoenix(server.port);

function countOf(list: Record<string, { metas: unknown[] }>): Count {
  const keys = Object.keys(list);
  return { keys: keys.length, metas: keys.reduce((sum, key) => sum + list[key].metas.length, 0) };
}

describe("presence counts", () => {
  it("count-mode clients get presence_count matching the real list under churn, only when it changed, and never the list", async () => {
    const server = await opened.server({ countIntervalMs: 20, channels: { "room:*": room } });
    const topic = "room:big";
    const watchers = Array.from({ length: 3 }, (_, i) => {
      const channel = open(server).channel(topic, { user: `watcher-${i}`, presence: "count" });
      const counts: Count[] = [];
      const listEvents: string[] = [];
      channel.on("presence_count", (count: Count) => void counts.push(count));
      channel.on("presence_state", () => void listEvents.push("presence_state"));
      channel.on("presence_diff", () => void listEvents.push("presence_diff"));
      return { channel, counts, listEvents };
    });
    await Promise.all(watchers.map((w) => joined(w.channel)));
    const listChannel = open(server).channel(topic, { user: "lister" });
    const presence = new Presence(listChannel);
    await joined(listChannel);

    // Churn: 90 joins over 30 users (several tabs each), a leave after every third join.
    const members: Channel[] = [];
    for (let i = 0; i < 90; i++) {
      const channel = open(server).channel(topic, { user: `user-${i % 30}` });
      members.push(channel);
      void joined(channel);
      if (i % 3 === 2) members.splice((i * 7) % members.length, 1)[0].leave();
    }
    const truth = () => countOf(server.presence.list(topic) as Record<string, { metas: unknown[] }>);
    await waitFor(() => truth().metas === members.length + 4, "the joins and leaves to land");
    const expected = truth();
    const phoenixList = () => countOf(Object.fromEntries(presence.list((key, p) => [key, p])) as Record<string, { metas: unknown[] }>);
    await waitFor(() => watchers.every((w) => JSON.stringify(w.counts.at(-1)) === JSON.stringify(expected)), "every count client to see the final count");
    await waitFor(() => JSON.stringify(phoenixList()) === JSON.stringify(expected), "the list client to agree");
    for (const { counts, listEvents } of watchers) {
      expect(listEvents).toEqual([]);
      // Each push differs from the one before it.
      for (let i = 1; i < counts.length; i++) expect(counts[i]).not.toEqual(counts[i - 1]);
    }

    // The server's own view, from a count-mode and a list-mode socket.
    const ask = (channel: Channel) => new Promise((resolve) => channel.push("count", {}).receive("ok", resolve));
    expect(await ask(watchers[0].channel)).toEqual({ ...expected, mode: "count" });
    expect(await ask(listChannel)).toEqual({ ...expected, mode: "list" });
  });

  it("a join in count mode is answered with the count at once, before any change", async () => {
    const server = await opened.server({ countIntervalMs: 60_000, channels: { "room:*": room } });
    const a = open(server).channel("room:q", { user: "ada" });
    await joined(a);
    await waitFor(() => countOf(server.presence.list("room:q") as Record<string, { metas: unknown[] }>).keys === 1, "ada tracked");
    const counted = open(server).channel("room:q", { user: "bob", presence: "count" });
    const counts: Count[] = [];
    counted.on("presence_count", (count: Count) => void counts.push(count));
    await joined(counted);
    await waitFor(() => counts.length === 1, "the count after the join reply");
    expect(counts[0]).toEqual({ keys: 1, metas: 1 });
  });
});
