import { decode, encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import { NodeProcess } from "../support/node-process.js";
import { perTest } from "../support/opened.js";
import { waitFor } from "../support/wait.js";

const opened = perTest();

describe("msgpack serializer, chosen with ?serializer=msgpack", () => {
  it("speaks msgpack frames and shares broadcasts with JSON sockets", async () => {
    const server = await opened.server();
    const packed = await opened.raw(server, { query: "vsn=2.0.0&serializer=msgpack" });
    const json = await opened.raw(server);
    packed.send(Buffer.from(encode(["1", "1", "room:m", "phx_join", { user: "mp", presence: false }])));
    json.send(["1", "1", "room:m", "phx_join", { user: "js", presence: false }]);
    await json.reply("1");
    const decoded = () => packed.messages.filter(Buffer.isBuffer).map((m) => decode(m) as unknown[]);
    await waitFor(() => decoded().find((f) => f[3] === "phx_reply"), "msgpack join reply");
    json.send(["1", "2", "room:m", "new_msg", { body: "both" }]);
    const broadcast = await waitFor(() => decoded().find((f) => f[3] === "new_msg"), "msgpack broadcast");
    expect(broadcast).toEqual([null, null, "room:m", "new_msg", { user: "js", body: "both" }]);
    expect(await json.next((f) => f[3] === "new_msg")).toEqual([null, null, "room:m", "new_msg", { user: "js", body: "both" }]);
  });
});

describe("socket lifecycle", () => {
  it("closes a socket that sends nothing for idleTimeoutMs", async () => {
    const server = await opened.server({ idleTimeoutMs: 8000 });
    const quiet = await opened.raw(server);
    const closed = await quiet.closed();
    expect(closed.code).not.toBe(1000);
    expect(server.health().sockets).toBe(0);
  }, 30_000);

  it("refuses uWS's JavaScript fallback when UWS_USE_FALLBACK asks for it: it runs only on the native binary", async () => {
    const { code, output } = await NodeProcess.run({ UWS_USE_FALLBACK: "1", PORT: "0" });
    expect(code).toBe(1);
    expect(output).toContain("native uWebSockets.js");
  });

  it("rejects bad configuration with a message naming the setting", async () => {
    const { code, output } = await NodeProcess.run({ PORT: "99999" });
    expect(code).toBe(1);
    expect(output).toContain("port must be an integer from 0 to 65535");
  });

  it("drains on SIGTERM: clients get 1001 (so they reconnect) and the process exits 0", async () => {
    const node = await opened.node();
    const client = await opened.raw(node);
    expect(await node.stop("SIGTERM")).toBe(0);
    const closed = await client.closed();
    expect(closed.code).toBe(1001);
  });
});
