import { describe, expect, it } from "vitest";
import type { ConnectInfo } from "../../server/index.js";
import { ok } from "../../server/index.js";
import { isOriginAllowed } from "../../server/endpoint/handshake.js";
import { RawClient } from "../support/raw-client.js";
import { perTest } from "../support/opened.js";
import { socketUrl } from "../support/server.js";

const opened = perTest();


describe("WebSocket handshake", () => {
  it("refuses a missing, unknown or invalid vsn with 403", async () => {
    const server = await opened.server();
    expect(await RawClient.upgradeStatus(socketUrl(server, ""))).toBe(403);
    expect(await RawClient.upgradeStatus(socketUrl(server, "vsn=1.0.0"))).toBe(403);
    expect(await RawClient.upgradeStatus(socketUrl(server, "vsn=123.1.1"))).toBe(403);
    expect(await RawClient.upgradeStatus(socketUrl(server, "vsn=2.0.0"))).toBe(101);
  });

  it("refuses an unknown serializer with 403", async () => {
    const server = await opened.server();
    expect(await RawClient.upgradeStatus(socketUrl(server, "vsn=2.0.0&serializer=xml"))).toBe(403);
  });

  it("hands query params, headers, address and the subprotocol token to connect, and seeds assigns", async () => {
    let seen: { params: Record<string, string>; info: ConnectInfo } | undefined;
    const server = await opened.server({
      connect: async (params, info) => {
        seen = { params: { ...params }, info };
        return params.token === "good" ? { assigns: { userId: 7 } } : false;
      },
      channels: { "me:*": { join: (_t, _p, socket) => ok({ userId: socket.assigns.userId as number }) } },
    });
    expect(await RawClient.upgradeStatus(socketUrl(server, "token=bad&vsn=2.0.0"))).toBe(403);
    const token = Buffer.from("s3cret token").toString("base64").replace(/=+$/, "");
    const client = await opened.raw(server, {
      query: "token=good&vsn=2.0.0",
      protocols: ["phoenix", `base64url.bearer.phx.${token}`],
      headers: { "x-trace": "abc" },
    });
    expect(client.ws.protocol).toBe("phoenix");
    expect(seen?.params).toEqual({ token: "good", vsn: "2.0.0" });
    expect(seen?.info.authToken).toBe("s3cret token");
    expect(seen?.info.headers["x-trace"]).toBe("abc");
    expect(seen?.info.remoteAddress).toMatch(/127\.0\.0\.1/);
    client.send(["1", "1", "me:1", "phx_join", {}]);
    expect((await client.reply("1"))[4]).toEqual({ status: "ok", response: { userId: 7 } });
  });

  it("answers 500 when the connect hook throws, and keeps serving", async () => {
    const server = await opened.server({
      connect: (params) => {
        if (params.crash) throw new Error("bug");
        return true;
      },
    });
    expect(await RawClient.upgradeStatus(socketUrl(server, "crash=1&vsn=2.0.0"))).toBe(500);
    expect(await RawClient.upgradeStatus(socketUrl(server))).toBe(101);
  });

  it("checks Origin: same host by default, or an explicit list", async () => {
    let server = await opened.server();
    const host = `127.0.0.1:${server.port}`;
    expect(await RawClient.upgradeStatus(socketUrl(server), { headers: { origin: "https://evil.example" } })).toBe(403);
    expect(await RawClient.upgradeStatus(socketUrl(server), { headers: { origin: `http://${host}` } })).toBe(101);
    await server.close();
    server = await opened.server({ checkOrigin: ["https://app.example.com", "//*.trusted.org"] });
    expect(await RawClient.upgradeStatus(socketUrl(server), { headers: { origin: "https://app.example.com" } })).toBe(101);
    expect(await RawClient.upgradeStatus(socketUrl(server), { headers: { origin: "https://eu.trusted.org" } })).toBe(101);
    expect(await RawClient.upgradeStatus(socketUrl(server), { headers: { origin: "https://app.example.com.evil.io" } })).toBe(403);
  });
});

describe("isOriginAllowed", () => {
  it("accepts requests without Origin, and anything when disabled", () => {
    expect(isOriginAllowed(true, "", "a:1")).toBe(true);
    expect(isOriginAllowed(false, "https://x.y", "a:1")).toBe(true);
  });
  it("rejects a malformed Origin", () => {
    expect(isOriginAllowed(true, "not a url", "a:1")).toBe(false);
  });
  it("without publicUrl, allows only a loopback origin that is also the host connected to (no DNS rebinding)", () => {
    expect(isOriginAllowed(true, "http://127.0.0.1:4000", "127.0.0.1:4000")).toBe(true);
    expect(isOriginAllowed(true, "http://localhost:4000", "localhost:4000")).toBe(true);
    // A hostile name resolving to this server: the Host header says the same as the Origin.
    expect(isOriginAllowed(true, "http://evil.example", "evil.example")).toBe(false);
    expect(isOriginAllowed(true, "http://localhost:4000", "127.0.0.1:4000")).toBe(false);
    expect(isOriginAllowed(true, "ftp://localhost:4000", "localhost:4000")).toBe(false);
  });
  it("with publicUrl, allows exactly its origin, scheme and port included", () => {
    const url = "https://chat.example.com";
    expect(isOriginAllowed(true, "https://chat.example.com", "chat.example.com", url)).toBe(true);
    expect(isOriginAllowed(true, "http://chat.example.com", "chat.example.com", url)).toBe(false);
    expect(isOriginAllowed(true, "https://chat.example.com:8443", "chat.example.com:8443", url)).toBe(false);
    expect(isOriginAllowed(true, "https://evil.example", "evil.example", url)).toBe(false);
  });
  it("supports a function", () => {
    expect(isOriginAllowed((o) => o.endsWith(".ok"), "https://a.ok", "h")).toBe(true);
    expect(isOriginAllowed((o) => o.endsWith(".ok"), "https://a.no", "h")).toBe(false);
  });
});
