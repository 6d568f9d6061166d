import { afterEach, describe, expect, it } from "vitest";
import type { CinderServer } from "../../server/index.js";
import { CLOSE } from "../../server/index.js";
import { RawClient } from "../support/raw-client.js";
import { socketUrl, startServer } from "../support/server.js";

let server: CinderServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Sends `bad` on one socket and checks it is closed with `code`, while a bystander keeps working. */
async function expectClosedAlone(bad: string | Buffer, code: number, reasonPart: string) {
  server ??= await startServer();
  const bystander = await RawClient.open(socketUrl(server));
  bystander.send(["1", "1", "room:b", "phx_join", { user: "bystander", presence: false }]);
  await bystander.reply("1");
  const offender = await RawClient.open(socketUrl(server));
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
    server = await startServer({ maxPayloadLength: 1024 });
    await expectClosedAlone(JSON.stringify(["1", "2", "room:b", "ping", { pad: "x".repeat(1500) }]), CLOSE.tooBig, "1024-byte limit");
  });

  it("a client that never reads is disconnected instead of growing server memory", async () => {
    server = await startServer({ maxBufferedBytes: 64 * 1024 });
    const reader = await RawClient.open(socketUrl(server));
    reader.send(["1", "1", "room:slow", "phx_join", { user: "reader", presence: false }]);
    await reader.reply("1");
    const stalled = await RawClient.open(socketUrl(server));
    stalled.send(["1", "1", "room:slow", "phx_join", { user: "stalled", presence: false }]);
    await stalled.reply("1");
    // Stop reading at the TCP level: the kernel buffers fill, then the server's.
    (stalled.ws as unknown as { _socket: import("node:net").Socket })._socket.pause();
    const body = "y".repeat(32 * 1024);
    const deadline = Date.now() + 10_000;
    for (let i = 0; server.health().sockets === 2 && Date.now() < deadline; i++) {
      server.broadcast("room:slow", "bulk", { i, body });
      await new Promise((r) => (i % 50 === 49 ? setTimeout(r, 20) : setImmediate(r)));
    }
    expect(server.health().sockets).toBe(1);
    const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    expect(metrics).toMatch(/cinder_slow_consumer_disconnects_total [1-9]/);
    // The reader kept up and is still connected.
    reader.send(["1", "2", "room:slow", "ping", {}]);
    expect((await reader.reply("2"))[4]).toEqual({ status: "ok", response: {} });
  });
});
