import { describe, expect, it } from "vitest";
import { ok, type CinderServer, type ChannelHandler } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { HttpRefusal, RawClient, type RawFrame } from "../support/raw-client.js";
import { socketUrl } from "../support/server.js";
import { waitFor } from "../support/wait.js";

// Each rate limit: hit, answered as documented, and recovered once its second has passed.
const opened = perTest();

const reasonOf = (frame: RawFrame) => (frame[4] as { status: string; response: { reason?: string } }).response.reason;

const limited = (server: CinderServer, limit: string) => metricOf(server, "cinder_rate_limited_total", { limit });

const plain: ChannelHandler = { join: () => ok({}), handleIn: () => ok({ fine: true }) };

describe("rate limits", () => {
  it("answers pushes past maxFramesPerSecond with rate limited, and lets them through again a second later", async () => {
    const server = await opened.server({ maxFramesPerSecond: 5, channels: { "room:*": plain } });
    const client = await opened.raw(server);
    await client.join("room:a");
    for (let i = 0; i < 10; i++) client.send([null, `p${i}`, "room:a", "ping", {}]);
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => client.reply(`p${i}`)));
    const reasons = replies.map(reasonOf);
    expect(reasons.filter((r) => r === "rate limited").length).toBeGreaterThanOrEqual(5);
    expect(await limited(server, "frames")).toBeGreaterThanOrEqual(5);
    // Once tokens are back, a push is handled again.
    let n = 0;
    await waitFor(async () => {
      const ref = `again${n++}`;
      client.send([null, ref, "room:a", "ping", {}]);
      return reasonOf(await client.reply(ref)) === undefined;
    }, "a push to pass again", 5000);
  });

  it("closes a socket that stays over its frame rate with 1008", async () => {
    const server = await opened.server({ maxFramesPerSecond: 2, channels: { "room:*": plain } });
    const client = await opened.raw(server);
    const spam = setInterval(() => client.ws.readyState === 1 && client.send([null, null, "phoenix", "heartbeat", {}]), 20);
    try {
      expect(await client.closed()).toEqual({ code: 1008, reason: "too many frames: over 2 a second" });
    } finally {
      clearInterval(spam);
    }
    expect(await limited(server, "close")).toBe(1);
  }, 20_000);

  it("refuses joins past maxJoinsPerSecond with too many joins", async () => {
    const server = await opened.server({ maxJoinsPerSecond: 3, channels: { "room:*": plain } });
    const client = await opened.raw(server);
    const replies = await Promise.all(["a", "b", "c", "d", "e"].map((room) => client.join(`room:${room}`)));
    expect(replies.map(reasonOf)).toEqual([undefined, undefined, undefined, "too many joins", "too many joins"]);
    await waitFor(async () => reasonOf(await client.join("room:f")) === undefined, "a join to pass again", 5000);
  });

  it("counts nothing for a limit set to 0, and still counts the others, next to a server whose limits are all on", async () => {
    // The sockets of a server with a limit at 0 have no field for its moment (SocketConnection.of).
    const off = await opened.server({ maxFramesPerSecond: 0, maxPresencePerSecond: 0, maxInboundBytesPerSecond: 0, maxJoinsPerSecond: 2, channels: { "room:*": plain } });
    const on = await opened.server({ maxFramesPerSecond: 3, maxJoinsPerSecond: 2, channels: { "room:*": plain } });
    const free = await opened.raw(off);
    const counted = await opened.raw(on);
    expect((await Promise.all(["a", "b", "c"].map((room) => free.join(`room:${room}`)))).map(reasonOf)).toEqual([undefined, undefined, "too many joins"]);
    for (let i = 0; i < 20; i++) free.send([null, `p${i}`, "room:a", "ping", {}]);
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => free.reply(`p${i}`)));
    expect(replies.map(reasonOf).filter((r) => r !== undefined)).toEqual([]);
    await counted.join("room:a");
    for (let i = 0; i < 10; i++) counted.send([null, `q${i}`, "room:a", "ping", {}]);
    const limitedReplies = await Promise.all(Array.from({ length: 10 }, (_, i) => counted.reply(`q${i}`)));
    expect(limitedReplies.map(reasonOf)).toContain("rate limited");
    expect(await limited(off, "frames")).toBe(0);
  });

  it("refuses presence tracks past maxPresencePerSecond with rate_limited", async () => {
    const results: string[] = [];
    const tracker: ChannelHandler = {
      join: () => ok({}),
      handleIn(_event, payload, socket) {
        const result = socket.track(String((payload as { key: string }).key), {});
        results.push(result.ok ? "ok" : result.reason);
        return ok({});
      },
    };
    const server = await opened.server({ maxPresencePerSecond: 2, channels: { "room:*": tracker } });
    const client = await opened.raw(server);
    await client.join("room:p");
    for (const key of ["a", "b", "c"]) {
      client.send([null, key, "room:p", "track", { key }]);
      await client.reply(key);
    }
    expect(results).toEqual(["ok", "ok", "rate_limited"]);
    expect(await limited(server, "presence")).toBe(1);
    let n = 0;
    await waitFor(async () => {
      const key = `later${n++}`;
      client.send([null, key, "room:p", "track", { key }]);
      await client.reply(key);
      return results.at(-1) === "ok";
    }, "a track to pass again", 5000);
  });

  it("refuses upgrades past maxConnectsPerSecondPerIp with HTTP 429", async () => {
    const server = await opened.server({ maxConnectsPerSecondPerIp: 2 });
    await opened.raw(server);
    await opened.raw(server);
    await expect(RawClient.open(socketUrl(server))).rejects.toEqual(new HttpRefusal(429));
    expect(await limited(server, "connects")).toBe(1);
    await waitFor(() => opened.raw(server).then(() => true, () => false), "a connect to pass again", 5000);
  });
});

describe("logs of client-chosen topics", () => {
  it("never carry a whole unmatched topic, and never at warn", async () => {
    const node = await opened.node({ env: { LOG_LEVEL: "debug" } });
    const client = await opened.raw(node);
    const topic = `nope:${"x".repeat(900)}`;
    await client.join(topic);
    client.close();
    await waitFor(() => node.output.includes('"msg":"ignoring unmatched topic"'), "the debug line");
    const line = node.output.split("\n").find((l) => l.includes("ignoring unmatched topic")) as string;
    expect(JSON.parse(line)).toMatchObject({ level: 20, topicLength: topic.length, topic: topic.slice(0, 100) });
  });
});
