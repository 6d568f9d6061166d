import { describe, expect, it } from "vitest";
import { ok, signPhoenixToken } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import type { RawClient } from "../support/raw-client.js";
import { SALT, SECRET_KEY_BASE, clientWithToken } from "./support.js";

const opened = perTest();

describe("token expiry while connected, with a real server and real time", () => {
  it("tells every joined channel, closes an unrefreshed socket with 4401, and keeps one refreshed in-band", async () => {
    let handled = 0;
    const server = await opened.server({
      secretKeyBase: SECRET_KEY_BASE,
      // Tokens live 3 s and sockets are told 2.5 s before: room for the refresh, the whole story in about 3 s.
      auth: { phoenixToken: { salt: SALT }, expiryNoticeMs: 2500 },
      channels: { "room:*": { join: () => ok(), handleIn: () => (handled++, ok()) } },
    });
    const shortLived = (user: string) => signPhoenixToken(SECRET_KEY_BASE, SALT, user, { maxAgeMs: 3000 });
    const [stays, goes] = [await clientWithToken(opened, server, shortLived("ada")), await clientWithToken(opened, server, shortLived("bob"))];
    for (const client of [stays, goes]) {
      await client.join("room:a");
      await client.join("room:b");
    }
    const toldOn = async (client: RawClient, topic: string) => client.next((f) => f[2] === topic && f[3] === "token_expiring", `token_expiring on ${topic}`);
    for (const client of [stays, goes]) for (const topic of ["room:a", "room:b"]) expect((await toldOn(client, topic))[4]).toEqual({ expires_in_ms: expect.any(Number) });

    // Someone else's token is no refresh.
    stays.send(["j1", "r0", "room:a", "access_token", { access_token: signPhoenixToken(SECRET_KEY_BASE, SALT, "bob", { maxAgeMs: 3_600_000 }) }]);
    expect((await stays.reply("r0"))[4]).toEqual({ status: "error", response: { reason: "token is for another user" } });
    stays.send(["j1", "r1", "room:a", "access_token", { access_token: signPhoenixToken(SECRET_KEY_BASE, SALT, "ada", { maxAgeMs: 3_600_000 }) }]);
    expect((await stays.reply("r1"))[4]).toEqual({ status: "ok", response: {} });

    expect(await goes.closed()).toEqual({ code: 4401, reason: "token expired" });
    // Both tokens were signed at the same moment: by now the refreshed socket's first one has expired too.
    stays.send([null, "hb", "phoenix", "heartbeat", {}]);
    expect((await stays.reply("hb"))[4]).toEqual({ status: "ok", response: {} });
    expect(stays.closeEvent).toBeNull();
    expect(handled).toBe(0); // access_token never reaches the channel's handleIn
    expect(await metricOf(server, "cinder_token_expiry_closes_total")).toBe(1);
  });
});
