import { describe, expect, it } from "vitest";
import { encode } from "@msgpack/msgpack";
import WebSocket from "ws";
import { ok, type CinderServer } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { RawClient } from "../support/raw-client.js";
import { httpUrl, socketUrl } from "../support/server.js";
import { waitFor } from "../support/wait.js";

// Inputs that once crashed a node, a channel or a socket, each with what it gets now.
const opened = perTest();

/** The JSON text of an object nested `levels` deep: {"deep":[[…"x"…]]} (written out: stringify would overflow). */
const deepJson = (levels: number) => `{"deep":${"[".repeat(levels - 1)}"x"${"]".repeat(levels - 1)}}`;
const deepObject = (levels: number) => JSON.parse(deepJson(levels)) as Record<string, unknown>;


const echo = {
  join: () => ok({}),
  handleIn(event: string, payload: unknown, socket: { broadcast(event: string, payload: unknown): void }) {
    socket.broadcast(event, payload as Record<string, unknown>);
    return ok({});
  },
};

function post(server: CinderServer, body: string, authorization = "Bearer key"): Promise<Response> {
  return fetch(httpUrl(server, "/api/broadcast"), { method: "POST", headers: { authorization }, body });
}

describe("payloads nested too deep", () => {
  it("are refused by the HTTP API with 400, and a JSON and a msgpack subscriber still get what follows", async () => {
    const server = await opened.server({ broadcastKey: "key", channels: { "room:*": echo } });
    const json = await opened.raw(server);
    const packed = await opened.raw(server, { query: "vsn=2.0.0&serializer=msgpack" });
    await json.join("room:deep");
    packed.send(Buffer.from(encode(["1", "1", "room:deep", "phx_join", {}])));
    await waitFor(() => packed.messages.length > 0, "the msgpack join reply");
    for (const levels of [101, 5000]) {
      const response = await post(server, `{"topic":"room:deep","event":"e","payload":${deepJson(levels)}}`);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: "payload nested deeper than 32 levels" });
    }
    expect(() => server.broadcast("room:deep", "e", deepObject(101))).toThrow(/nested deeper than 32 levels/);
    expect((await post(server, JSON.stringify({ topic: "room:deep", event: "fine", payload: deepObject(32) }))).status).toBe(202);
    await json.next((f) => f[3] === "fine", "the broadcast at the JSON subscriber");
    await waitFor(() => packed.messages.length === 2, "the broadcast at the msgpack subscriber");
  });

  it("pushed by a client close that socket with 1007 and a reason; the channel's other members are untouched", async () => {
    const server = await opened.server({ channels: { "room:*": echo } });
    const bystander = await opened.raw(server);
    await bystander.join("room:deep");
    const pusher = await opened.raw(server);
    await pusher.join("room:deep");
    pusher.send(`["1","2","room:deep","shout",${deepJson(5000)}]`);
    expect(await pusher.closed()).toEqual({ code: 1007, reason: "invalid frame: payload nested deeper than 32 levels" });
    // A msgpack frame of a million nested arrays is refused before it is decoded.
    const packed = await opened.raw(server, { query: "vsn=2.0.0&serializer=msgpack" });
    packed.send(Buffer.concat([Buffer.from([0x95, 0xc0, 0xc0, 0xa1, 0x72, 0xa1, 0x65]), Buffer.alloc(1_000_000, 0x91)]));
    expect(await packed.closed()).toEqual({ code: 1007, reason: "invalid frame: payload nested deeper than 32 levels" });
    expect(await metricOf(server, "cinder_frames_refused_total")).toBe(2);
    bystander.send([null, "9", "room:deep", "shout", deepObject(32)]);
    await bystander.reply("9");
  });
});

describe("the handshake", () => {
  it("refuses serializer names that are not serializers, such as __proto__ and toString", async () => {
    const server = await opened.server();
    for (const name of ["__proto__", "toString", "constructor", "hasOwnProperty"]) {
      expect(await RawClient.upgradeStatus(socketUrl(server, `vsn=2.0.0&serializer=${name}`)), name).toBe(403);
    }
  });

  it("counts a text frame of invalid UTF-8 (the transport cuts it with 1006) and serves the others", async () => {
    const server = await opened.server();
    const before = await metricOf(server, "cinder_frame_errors_total");
    const ws = new WebSocket(socketUrl(server));
    await new Promise((resolve) => ws.once("open", resolve));
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.send(Buffer.from([0x5b, 0xff, 0xfe, 0x5d]), { binary: false });
    expect(await closed).toBe(1006);
    await waitFor(async () => (await metricOf(server, "cinder_frame_errors_total")) === before + 1, "the frame error to be counted");
    const other = await opened.raw(server);
    await other.join("room:fine", { user: "ada" });
  });
});

describe("long topics and events", () => {
  it("close the socket with 1007 past the limits; an unmatched topic is answered without logging it whole", async () => {
    const server = await opened.server();
    const client = await opened.raw(server);
    const reply = await client.join(`nope:${"x".repeat(500)}`);
    expect((reply[4] as { response: unknown }).response).toEqual({ reason: "unmatched topic" });
    client.send(JSON.stringify(["1", "1", `room:${"y".repeat(1100)}`, "phx_join", {}]));
    expect(await client.closed()).toEqual({ code: 1007, reason: "invalid frame: topic longer than 1024 characters" });
    const other = await opened.raw(server);
    other.send(JSON.stringify([null, "1", "room:a", "e".repeat(300), {}]));
    expect(await other.closed()).toEqual({ code: 1007, reason: "invalid frame: event longer than 256 characters" });
  });
});

describe("the bearer key", () => {
  it("accepts the scheme in any case, and refuses a wrong key", async () => {
    const server = await opened.server({ broadcastKey: "key" });
    const body = JSON.stringify({ topic: "room:x", event: "e", payload: {} });
    expect((await post(server, body, "bearer key")).status).toBe(202);
    expect((await post(server, body, "BEARER key")).status).toBe(202);
    expect((await post(server, body, "Bearer kez")).status).toBe(401);
    expect((await post(server, body, "Bearer key2")).status).toBe(401);
    expect((await post(server, body, "Basic key")).status).toBe(401);
  });
});
