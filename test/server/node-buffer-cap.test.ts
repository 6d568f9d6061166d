import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CLOSE, type CinderServer } from "../../server/index.js";
import { RawClient } from "../support/raw-client.js";
import { socketUrl, startServer } from "../support/server.js";
import { waitFor } from "../support/wait.js";

const MiB = 1024 * 1024;
const CAP = 16 * MiB;
const BODY = "x".repeat(64 * 1024);

let server: CinderServer | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await server?.close();
  server = undefined;
});

const tcp = (client: RawClient) => (client.ws as unknown as { _socket: Socket })._socket;

async function member(topic: string): Promise<RawClient> {
  const client = await RawClient.open(socketUrl(server as CinderServer));
  clients.push(client);
  await client.join(topic, { user: "u", presence: false });
  return client;
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${(server as CinderServer).port}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

describe("node-wide cap on unread outbound bytes", () => {
  it("closes the sockets holding the most (1013) until the node is under its cap; the others survive", async () => {
    // The per-socket limit is far above the cap: only the node-wide cap can close anyone here.
    server = await startServer({ maxBufferedBytes: 256 * MiB, maxNodeBufferedBytes: CAP });
    const small = [await member("room:small"), await member("room:small")];
    const big = [await member("room:big"), await member("room:big")];
    // None of them reads any more: the kernel's buffers fill, then uWS's.
    for (const client of [...small, ...big]) tcp(client).pause();

    // 2 MiB each for the small ones: together far below the cap.
    for (let i = 0; i < 32; i++) {
      server.broadcast("room:small", "bulk", { i, body: BODY });
      await new Promise((r) => setImmediate(r));
    }
    // The big ones get more and more until the cap closes them (at most 160 MiB each, well
    // under their own 256 MiB limit).
    let maxGauge = 0;
    for (let i = 0; i < 2560 && server.health().sockets > 2; i++) {
      server.broadcast("room:big", "bulk", { i, body: BODY });
      if (i % 32 === 31) {
        maxGauge = Math.max(maxGauge, await metric("cinder_buffered_bytes"));
        await new Promise((r) => setTimeout(r, 20));
      } else {
        await new Promise((r) => setImmediate(r));
      }
    }
    expect(server.health().sockets).toBe(2);
    expect(await metric("cinder_slow_consumer_node_cap_disconnects_total")).toBe(2);
    expect(await metric("cinder_slow_consumer_disconnects_total")).toBe(0);
    expect(maxGauge).toBeGreaterThan(0);
    expect(await metric("cinder_buffered_bytes")).toBeLessThanOrEqual(CAP);

    // The big ones read again: everything queued, then the close with the slow-consumer code.
    for (const client of big) tcp(client).resume();
    for (const client of big) expect(await client.closed()).toMatchObject({ code: CLOSE.slowConsumer, reason: expect.stringContaining("slow consumer") });
    // The small ones were never closed: they read their backlog and still answer.
    for (const client of small) {
      tcp(client).resume();
      await waitFor(() => client.frames.filter((f) => f[3] === "bulk").length === 32, "the small socket's backlog", 15_000);
      client.send(["j1", "p", "room:small", "ping", {}]);
      expect((await client.reply("p"))[4]).toEqual({ status: "ok", response: {} });
      expect(client.closeEvent).toBeNull();
    }
  }, 60_000);
});
