import { describe, expect, it } from "vitest";
import { perTest } from "../support/opened.js";
import { httpUrl } from "../support/server.js";

const opened = perTest();

const post = (url: string, body: string, key?: string) =>
  fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
  });

describe("HTTP endpoints", () => {
  it("reports health as JSON with sockets and channels", async () => {
    const server = await opened.server({ nodeName: "n1" });
    await opened.joinedClient(server, "room:h", { user: "a", presence: false });
    const res = await fetch(httpUrl(server, "/health"));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", node: "n1", sockets: 1, channels: 1, topics: 1 });
  });

  it("takes a request head of up to 16 KiB, as Node's HTTP server does, on either uWS build (a browser with many cookies)", async () => {
    const server = await opened.server();
    const cookie = `session=${"c".repeat(12 * 1024)}`;
    const res = await fetch(httpUrl(server, "/health"), { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok" });
  });

  it("serves Prometheus metrics", async () => {
    const server = await opened.server();
    const text = await (await fetch(httpUrl(server, "/metrics"))).text();
    expect(text).toContain("# TYPE cinder_sockets gauge");
    expect(text).toContain("cinder_channels");
  });

  it("answers unknown paths with a JSON 404", async () => {
    const server = await opened.server();
    const res = await fetch(httpUrl(server, "/nope"));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not found" });
  });

  it("keeps the broadcast endpoint closed until a key is configured", async () => {
    const server = await opened.server();
    const res = await post(httpUrl(server, "/api/broadcast"), "{}");
    expect(res.status).toBe(403);
    expect((await res.json()).error).toContain("BROADCAST_KEY");
  });

  it("broadcasts from a backend with the key, and rejects bad requests with 4xx and a JSON error", async () => {
    const server = await opened.server({ broadcastKey: "k3y" });
    const url = httpUrl(server, "/api/broadcast");
    const client = await opened.joinedClient(server, "room:api", { user: "a", presence: false });

    const cases: Array<[string, string | undefined, number, string]> = [
      ['{"topic":"room:api","event":"e","payload":{}}', undefined, 401, "bearer"],
      ['{"topic":"room:api","event":"e","payload":{}}', "wrong", 401, "bearer"],
      ["{nope", "k3y", 400, "JSON"],
      ['{"event":"e","payload":{}}', "k3y", 400, "topic"],
      ['{"topic":"room:api","payload":{}}', "k3y", 400, "event"],
      ['{"topic":"room:api","event":"e","payload":[1]}', "k3y", 400, "payload"],
      ['{"topic":"room:api","event":"phx_close","payload":{}}', "k3y", 400, "reserved"],
      [JSON.stringify({ topic: "room:api", event: "e", payload: { big: "z".repeat(1_100_000) } }), "k3y", 413, "larger"],
    ];
    for (const [body, key, status, part] of cases) {
      const res = await post(url, body, key);
      expect(res.status, body.slice(0, 60)).toBe(status);
      expect((await res.json()).error).toContain(part);
    }
    const res = await post(url, JSON.stringify({ topic: "room:api", event: "announce", payload: { text: "hi" } }), "k3y");
    expect(res.status).toBe(202);
    expect(await client.next((f) => f[3] === "announce")).toEqual([null, null, "room:api", "announce", { text: "hi" }]);
  });

  it("serves the demo page at / when the demo is on", async () => {
    const server = await opened.server({ demo: true });
    const res = await fetch(httpUrl(server, "/"));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Cinder chat");
  });
});
