import { describe, expect, it } from "vitest";
import type { CinderServer } from "../../server/index.js";
import { CLOSE } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { waitFor } from "../support/wait.js";

const opened = perTest();

/** Sends `bad` on one socket (to `server`, or a default one) and checks it is closed with `code`, while a bystander keeps working. */
async function expectClosedAlone(bad: string | Buffer, code: number, reasonPart: string, server?: CinderServer) {
  server ??= await opened.server();
  const bystander = await opened.joinedClient(server, "room:b", { user: "bystander", presence: false }, "1");
  const offender = await opened.raw(server);
  offender.send(bad);
  const closed = await offender.closed();
  expect(closed.code).toBe(code);
  expect(closed.reason).toContain(reasonPart);
  bystander.send(["1", "2", "room:b", "ping", {}]);
  expect((await bystander.reply("2"))[4]).toEqual({ status: "ok", response: {} });
  expect(bystander.closeEvent).toBeNull();
}

describe("bad input closes only the offending socket, with a code and a reason", () => {
  it("text that is not JSON → 1007", () => expectClosedAlone("{not json", CLOSE.invalidFrame, "not valid JSON"));
  it("a JSON value that is not a 5-element array → 1007", () => expectClosedAlone('["1","2","t"]', CLOSE.invalidFrame, "must be an array"));
  it("a payload that is not an object → 1007", () => expectClosedAlone('["1","2","room:b","ping",[1,2]]', CLOSE.invalidFrame, "payload"));
  it("a ref that is not a string → 1007", () => expectClosedAlone('[1,2,"room:b","ping",{}]', CLOSE.invalidFrame, "join_ref and ref"));
  it("a binary frame with a bad kind → 1007", () => expectClosedAlone(Buffer.from([9, 1, 1, 1, 1]), CLOSE.invalidFrame, "kind"));
  it("a binary frame whose header runs past its end → 1007", () =>
    expectClosedAlone(Buffer.from([0, 200, 1, 1, 1, 65]), CLOSE.invalidFrame, "past the end"));

  it("a frame over maxPayloadLength → 1009", async () => {
    const server = await opened.server({ maxPayloadLength: 1024 });
    await expectClosedAlone(JSON.stringify(["1", "2", "room:b", "ping", { pad: "x".repeat(1500) }]), CLOSE.tooBig, "1024-byte limit", server);
  });

  it("a client that never reads is disconnected instead of growing server memory", async () => {
    const server = await opened.server({ maxBufferedBytes: 64 * 1024 });
    const reader = await opened.joinedClient(server, "room:slow", { user: "reader", presence: false }, "1");
    const stalled = await opened.joinedClient(server, "room:slow", { user: "stalled", presence: false }, "1");
    // Stop reading at the TCP level: the kernel buffers fill, then the server's.
    (stalled.ws as unknown as { _socket: import("node:net").Socket })._socket.pause();
    const body = "y".repeat(32 * 1024);
    let i = 0;
    // 50 broadcasts a turn of the event loop each, until the server has closed the stalled socket.
    await waitFor(
      async () => {
        for (const end = i + 50; i < end; i++) {
          server.broadcast("room:slow", "bulk", { i, body });
          await new Promise((r) => setImmediate(r));
        }
        return server.health().sockets === 1;
      },
      "the stalled socket to be disconnected",
      10_000,
    );
    expect(await metricOf(server, "cinder_slow_consumer_disconnects_total")).toBeGreaterThanOrEqual(1);
    // The reader kept up and is still connected.
    reader.send(["1", "2", "room:slow", "ping", {}]);
    expect((await reader.reply("2"))[4]).toEqual({ status: "ok", response: {} });
  });
});
