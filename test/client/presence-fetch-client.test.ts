/**
 * A channel's presence fetch seen by our client, over each serializer: the fields it adds arrive
 * beside the metas in presence_state (a snapshot's parts, encoded per serializer) and in
 * presence_diff, and our Presence keeps them.
 */
import { describe, expect, it } from "vitest";
import { Presence } from "../../client/index.js";
import { ok, type ChannelHandler } from "../../server/index.js";
import { perTest } from "../support/opened.js";
import { waitFor } from "../support/wait.js";
import { cinderSocket, joined, serializers } from "./support.js";

const opened = perTest();

const namedRoom: ChannelHandler = {
  join: (_topic, params, socket) => {
    socket.assigns.user = String(params.user);
    return ok();
  },
  afterJoin(socket) {
    socket.pushPresenceState();
    socket.track(socket.assigns.user as string, { device: "web" });
  },
  presenceFetch: (_topic, presences) => {
    const enriched: Record<string, { user: { name: string } }> = {};
    for (const key in presences) enriched[key] = { user: { name: key.toUpperCase() } };
    return Promise.resolve(enriched);
  },
};

describe.each(serializers)("presence fetch seen by our client, %s serializer", (_name, serializer) => {
  it("keeps the fetched fields beside the metas, from the list and from the diffs", async () => {
    const server = await opened.server({ channels: { "room:*": namedRoom }, maxPresencePerSecond: 0 });
    const member = (user: string) => {
      const channel = opened.socket(cinderSocket(server.port, { serializer })).channel("room:named", { user });
      const presence = new Presence(channel);
      const list = () =>
        presence
          .list((key, p) => `${key}:${(p.user as { name: string } | undefined)?.name ?? "-"}:${p.metas.map((m) => m.device).join("+")}`)
          .sort()
          .join(",");
      return { list, joined: joined(channel) };
    };
    const ada = member("ada");
    await ada.joined;
    await waitFor(() => ada.list() === "ada:ADA:web", () => `ada enriched (${ada.list()})`);
    const bob = member("bob");
    await bob.joined;
    await waitFor(() => ada.list() === "ada:ADA:web,bob:BOB:web" && bob.list() === "ada:ADA:web,bob:BOB:web", () => `both enriched (${ada.list()} | ${bob.list()})`);
    expect(bob.list()).toBe(ada.list());
  });
});
