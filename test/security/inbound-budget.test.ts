import { encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import { ok, type ChannelHandler } from "../../server/index.js";
import { CROWDED_MEMBER_BYTES, jsonTextCost, msgpackCost, TOO_COSTLY, TOO_DEEP, VALUE_BYTES } from "../../server/pubsub/payload-depth.js";
import type { RawFrame } from "../support/raw-client.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";

const opened = perTest();

/** Answers a push `shout` by broadcasting it to the topic. */
const shouting: ChannelHandler = {
  join: () => ok({}),
  handleIn(event, payload, socket) {
    socket.broadcast(event, payload as Record<string, unknown>);
    return ok({});
  },
};

/** A frame of about 1 MB that is cheap to send and was costly to decode: an array of empty msgpack maps. */
const emptyMaps = (): Buffer => Buffer.from(encode(["1", "1", "room:flood", "new_msg", { a: Array.from({ length: 1_000_000 - 40 }, () => ({})) }]));

describe("the inbound byte budget (maxInboundBytesPerSecond)", () => {
  it("closes sockets flooding frames costly to decode with 1008, none decoded, while another socket's heartbeats and broadcasts are answered in order", async () => {
    const server = await opened.server({ channels: { "room:*": shouting } });
    const probe = await opened.raw(server);
    await probe.join("room:probe");
    const flood = emptyMaps();
    expect(flood.byteLength).toBeLessThanOrEqual(1024 * 1024);
    const closes: Array<{ code: number; reason: string }> = [];
    for (let round = 0; round < 3; round++) {
      const attacker = await opened.raw(server, { query: "vsn=2.0.0&serializer=msgpack" });
      for (let i = 0; i < 3; i++) attacker.send(flood);
      // While the attacker's frames arrive: a heartbeat and a broadcast, each answered in turn.
      probe.send([null, `h${round}`, "phoenix", "heartbeat", {}]);
      probe.send([null, `s${round}`, "room:probe", "shout", { round }]);
      await probe.reply(`s${round}`);
      closes.push(await attacker.closed());
    }
    expect(closes).toEqual(Array(3).fill({ code: 1008, reason: "too much to decode: over 1048576 bytes a second" }));
    const seen = probe.frames.filter((f: RawFrame) => f[1]?.startsWith("h") || f[3] === "shout").map((f: RawFrame) => (f[3] === "shout" ? `shout ${JSON.stringify(f[4])}` : f[1]));
    expect(seen).toEqual(["h0", 'shout {"round":0}', "h1", 'shout {"round":1}', "h2", 'shout {"round":2}']);
    expect(await metricOf(server, "cinder_rate_limited_total", { limit: "bytes" })).toBe(3);
    // Refused before decoding: only the probe's frames (a join, three heartbeats, three shouts) were ever decoded.
    expect(await metricOf(server, "cinder_messages_received_total")).toBe(7);
  }, 30_000);

  it("lets one frame of maxPayloadLength through on a fresh socket, and closes one that keeps sending past its rate", async () => {
    const server = await opened.server({ channels: { "room:*": shouting }, maxInboundBytesPerSecond: 1000, maxPayloadLength: 64 * 1024 });
    const client = await opened.raw(server);
    await client.join("room:big");
    const text = "x".repeat(60_000);
    client.send([null, "big1", "room:big", "note", { text }]);
    expect((await client.reply("big1"))[4]).toMatchObject({ status: "ok" });
    client.send([null, "big2", "room:big", "note", { text }]);
    expect(await client.closed()).toEqual({ code: 1008, reason: "too much to decode: over 1000 bytes a second" });
    expect(client.frames.some((f) => f[1] === "big2")).toBe(false);
    expect(await metricOf(server, "cinder_rate_limited_total", { limit: "bytes" })).toBe(1);
  });
});

describe("a frame's decode cost, weighed before decoding", () => {
  it("counts arrays, objects and their members, never what is inside strings", () => {
    expect(jsonTextCost('["1","1","t","e",{}]', 33)).toBe(6 * VALUE_BYTES);
    expect(jsonTextCost('["a,b:[{", "\\"{[,:", "\\\\", {"k": [1, 2]}]', 33)).toBe(8 * VALUE_BYTES);
    expect(msgpackCost(encode(["1", "1", "t", "e", {}]), 33)).toBe(6 * VALUE_BYTES);
  });

  it("charges more for each member of an object past its 16th", () => {
    const members = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect(jsonTextCost(JSON.stringify(members(16)), 33)).toBe((1 + 16 * 2 - 1) * VALUE_BYTES);
    expect(jsonTextCost(JSON.stringify(members(20)), 33)).toBe((1 + 20 * 2 - 1) * VALUE_BYTES + 4 * CROWDED_MEMBER_BYTES);
    expect(msgpackCost(encode(members(20)), 33)).toBe((1 + 20 * 2) * VALUE_BYTES + 4 * CROWDED_MEMBER_BYTES);
  });

  it("stops as soon as a frame is too deep or costs more than the limit", () => {
    expect(jsonTextCost("[[[[1]]]]", 3)).toBe(TOO_DEEP);
    expect(msgpackCost(encode([[[[1]]]]), 3)).toBe(TOO_DEEP);
    const many = Array.from({ length: 1000 }, () => ({}));
    expect(jsonTextCost(JSON.stringify(many), 33, 100 * VALUE_BYTES)).toBe(TOO_COSTLY);
    expect(msgpackCost(encode(many), 33, 100 * VALUE_BYTES)).toBe(TOO_COSTLY);
  });
});
