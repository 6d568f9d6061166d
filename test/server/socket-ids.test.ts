/**
 * Socket ids: a socket keeps its id as a number and makes the text when asked; the text is the
 * one it always was (`<incarnation>.<serial in base 36>`, `.l<serial>` for LongPoll), the same
 * every time it is asked, and unique among the node's sockets of both transports.
 */
import { describe, expect, it } from "vitest";

import type { ChannelHandler } from "../../server/channel/handler.js";
import { ok } from "../../server/channel/results.js";
import { socketIdText, socketSerial } from "../../server/socket/socket-id.js";
import { frame, openSession, pollUntil, post } from "../longpoll/raw-longpoll.js";
import { perTest } from "../support/opened.js";

const opened = perTest();

/** Answers its join and every push with the socket's id. */
const whoAmI: ChannelHandler = {
  join: (_topic, _params, socket) => ok({ id: socket.socketId }),
  handleIn: (_event, _payload, socket) => ok({ id: socket.socketId }),
};

describe("socket id text", () => {
  it("is the prefix, a transport mark for LongPoll, and the serial in base 36", () => {
    expect(socketIdText("lq3x9ab2k0c1d", socketSerial("websocket", 0))).toBe("lq3x9ab2k0c1d.0");
    expect(socketIdText("lq3x9ab2k0c1d", socketSerial("websocket", 46))).toBe("lq3x9ab2k0c1d.1a");
    expect(socketIdText("lq3x9ab2k0c1d", socketSerial("longpoll", 46))).toBe("lq3x9ab2k0c1d.l1a");
  });

  it("stays exact and apart past the small-integer range, up to 2^52 sockets of a transport", () => {
    for (const serial of [2 ** 30 - 1, 2 ** 30, 2 ** 31, 2 ** 52 - 1]) {
      expect(socketIdText("p", socketSerial("websocket", serial))).toBe(`p.${serial.toString(36)}`);
      expect(socketIdText("p", socketSerial("longpoll", serial))).toBe(`p.l${serial.toString(36)}`);
    }
  });
});

describe("a socket's id", () => {
  it("is the same text every time, and unique across WebSockets and LongPoll sessions", async () => {
    const server = await opened.server({ channels: { "who:*": whoAmI }, secretKeyBase: "a-secret-key-base-of-enough-length-for-tests-0123456789" });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const client = await opened.raw(server);
      const { id } = await client.joined<{ id: string }>("who:x");
      client.send(["j1", "p1", "who:x", "again", {}]);
      const again = await client.reply("p1");
      expect(again[4]).toEqual({ status: "ok", response: { id } });
      ids.push(id);
    }
    const token = await openSession(server.port);
    await post(server.port, token, frame("1", "1", "who:x", "phx_join", {}));
    const seen = await pollUntil(server.port, token, (f) => f[3] === "phx_reply" && f[1] === "1");
    const longPollId = ((seen.find((f) => f[1] === "1")?.[4] as { response: { id: string } }).response.id);

    const [prefix] = ids[0].split(".");
    expect(ids.map((id) => id.split(".")[0])).toEqual([prefix, prefix, prefix]);
    for (const id of ids) expect(id).toMatch(/^[^.]+\.[0-9a-z]+$/);
    expect(longPollId).toMatch(new RegExp(`^${prefix}\\.l[0-9a-z]+$`));
    expect(new Set([...ids, longPollId]).size).toBe(4);
  });
});
