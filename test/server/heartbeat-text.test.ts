import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeJson } from "../../client/codec/json.js";
import { ok, type ChannelHandler } from "../../server/index.js";
import { heartbeatRef, heartbeatReplyText } from "../../server/socket/heartbeat-text.js";
import { BUSY_MS } from "../../server/socket/join-backlog.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import type { RawClient } from "../support/raw-client.js";
import { waitFor } from "../support/wait.js";

const opened = perTest();

const phoenixJs = (ref: string | null): string => JSON.stringify([null, ref, "phoenix", "heartbeat", {}]);
/** The same heartbeat with spaces: JSON.parse reads it, the text recognition does not. */
const spaced = (ref: string | null): string => `[null, ${JSON.stringify(ref)}, "phoenix", "heartbeat", {}]`;
const normalReply = (ref: string | null): string =>
  encodeJson({ joinRef: null, ref, topic: "phoenix", event: "phx_reply", payload: { status: "ok", response: {} } });

const REFS = ["1", "42", "9007199254740993", "", "abc-DEF_.:~ /!'#$%&()*+,;<=>?@[]^`{|}", "x".repeat(300), null];

const NEAR_HEARTBEATS = [
  '[null,"1","phoenix","heartbeat",{} ]',
  '[null,"1","phoenix","heartbeat",{}] ',
  '["1","1","phoenix","heartbeat",{}]',
  '[null,1,"phoenix","heartbeat",{}]',
  '[null,"1","phoenix","heartbeat",{"a":1}]',
  '[null,"1","phoenix","heartbeat",{},1]',
  '[null,"1","room:a","heartbeat",{}]',
  '[null,"1","phoenix","heartbeats",{}]',
  '[null,"a\\"b","phoenix","heartbeat",{}]',
  '[null,"a\\u0041","phoenix","heartbeat",{}]',
  '[null,"é","phoenix","heartbeat",{}]',
  '[null,"1","phoenix","heartbeat",{}',
  '[null,"1","phoenix","heartbeat",[]]',
  '[null,""phoenix","heartbeat",{}]',
];

/** The text of the reply with `ref`, as received. */
async function replyText(client: RawClient, ref: string | null): Promise<string> {
  await client.next((f) => f[1] === ref && f[3] === "phx_reply", `the reply to ${ref}`);
  const text = client.messages.find((m): m is string => typeof m === "string" && (JSON.parse(m) as unknown[])[1] === ref);
  if (text === undefined) throw new Error(`no text reply to ${ref}`);
  return text;
}

describe("a heartbeat recognised by its text", () => {
  it("reads the ref of phoenix.js's heartbeat, and replies with the text the JSON serializer writes", () => {
    for (const ref of REFS) {
      expect(heartbeatRef(phoenixJs(ref))).toBe(ref);
      expect(heartbeatReplyText(ref)).toBe(normalReply(ref));
    }
  });

  it("recognises nothing that JSON.parse would read otherwise: a recognised text is a heartbeat with that ref, any ref", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constant(null)), (ref) => {
        const text = phoenixJs(ref);
        const read = heartbeatRef(text);
        if (read === undefined) return;
        expect(read).toBe(ref);
        expect(heartbeatReplyText(read)).toBe(normalReply(ref));
      }),
    );
    for (const text of NEAR_HEARTBEATS) expect(heartbeatRef(text)).toBeUndefined();
  });

  it("answers on a real server with the same bytes as a heartbeat decoded by JSON.parse, for refs of every form", async () => {
    const server = await opened.server();
    const client = await opened.raw(server);
    for (const [i, ref] of REFS.entries()) {
      client.send(phoenixJs(ref));
      const fast = await replyText(client, ref);
      client.messages.length = 0;
      // The same ref again, in a text only JSON.parse reads: the reply must be the same bytes.
      client.send(spaced(ref));
      expect(await replyText(client, ref), `ref ${i}`).toBe(fast);
      expect(fast).toBe(normalReply(ref));
      client.messages.length = 0;
    }
    expect(await metricOf(server, "cinder_messages_received_total")).toBe(REFS.length * 2);
  });

  it("decodes a near-heartbeat that is not valid as any frame and closes the socket as for any bad frame", async () => {
    const server = await opened.server();
    for (const text of ['[null,"1","phoenix","heartbeat",{}', '[null,"1","phoenix","heartbeat",[]]']) {
      const client = await opened.raw(server);
      client.send(text);
      const closed = await client.closed();
      expect(closed.code).toBe(1007);
      expect(closed.reason).toMatch(/^invalid frame: /);
    }
    expect(await metricOf(server, "cinder_frame_errors_total")).toBe(2);
  });

  it("counts heartbeats against maxFramesPerSecond: past it they are answered rate limited", async () => {
    const server = await opened.server({ maxFramesPerSecond: 5 });
    const client = await opened.raw(server);
    for (let i = 0; i < 10; i++) client.send(phoenixJs(`h${i}`));
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => client.reply(`h${i}`)));
    const limited = replies.filter((r) => (r[4] as { response: { reason?: string } }).response.reason === "rate limited");
    expect(limited.length).toBeGreaterThanOrEqual(5);
    expect(await metricOf(server, "cinder_rate_limited_total", { limit: "frames" })).toBe(limited.length);
    expect(await metricOf(server, "cinder_messages_received_total")).toBe(10);
  });

  it("answers a heartbeat after a join that waits in the join backlog only after that join, in the order sent", async () => {
    // A push that keeps the thread busy past BUSY_MS: the join after it waits in the backlog.
    const slow: ChannelHandler = {
      join: () => ok({}),
      handleIn() {
        const until = performance.now() + BUSY_MS + 5;
        while (performance.now() < until);
        return ok({});
      },
    };
    const server = await opened.server({ channels: { "room:*": slow } });
    const client = await opened.raw(server);
    await client.join("room:a", {}, "1");
    // One write: the three frames reach the server in one read, handled in one go.
    const socket = (client.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    socket.cork();
    client.send(["1", "slow", "room:a", "work", {}]);
    client.send(["2", "2", "room:b", "phx_join", {}]);
    client.send(phoenixJs("hb"));
    socket.uncork();
    await waitFor(() => client.frames.some((f) => f[1] === "hb"), "the heartbeat's reply");
    await client.reply("2");
    expect(client.frames.filter((f) => f[3] === "phx_reply").map((f) => f[1])).toEqual(["1", "slow", "2", "hb"]);
    expect(await metricOf(server, "cinder_joins_deferred_total")).toBeGreaterThan(0);
  });
});
