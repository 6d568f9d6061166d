import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { CLOSE, type CinderServer } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import type { RawClient } from "../support/raw-client.js";
import { waitFor } from "../support/wait.js";

const MiB = 1024 * 1024;
const CAP = 16 * MiB;
const BODY = "x".repeat(64 * 1024);

const opened = perTest();

const tcp = (client: RawClient) => (client.ws as unknown as { _socket: Socket })._socket;

async function member(server: CinderServer, topic: string): Promise<RawClient> {
  const client = await opened.raw(server);
  await client.join(topic, { user: "u", presence: false });
  return client;
}

describe("node-wide cap on unread outbound bytes", () => {
  it("closes the sockets holding the most (1013) until the node is under its cap; the others survive", async () => {
    // The per-socket limit is far above the cap: only the node-wide cap can close anyone here.
    const server = await opened.server({ maxBufferedBytes: 256 * MiB, maxNodeBufferedBytes: CAP });
    const small = [await member(server, "room:small"), await member(server, "room:small")];
    const big = [await member(server, "room:big"), await member(server, "room:big")];
    // None of them reads any more: the kernel's buffers fill, then uWS's.
    for (const client of [...small, ...big]) tcp(client).pause();

    // 2 MiB each for the small ones: together far below the cap.
    for (let i = 0; i < 32; i++) {
      server.broadcast("room:small", "bulk", { i, body: BODY });
      await new Promise((r) => setImmediate(r));
    }
    // The big ones get more and more, 2 MiB a round, until the cap closes them (at most 160 MiB
    // each, well under their own 256 MiB limit).
    // The gauge is not sampled on the way: one sweep can see the total over the cap and shed at
    // once, so no read between rounds need ever see it above 0 (join-storm.test.ts watches it fill).
    let i = 0;
    await waitFor(
      async () => {
        if (i >= 2560) throw new Error("the big sockets got 160 MiB each and are still open");
        for (const end = i + 32; i < end; i++) {
          server.broadcast("room:big", "bulk", { i, body: BODY });
          await new Promise((r) => setImmediate(r));
        }
        return server.health().sockets <= 2;
      },
      "the node cap to close the big sockets",
      50_000,
    );
    expect(server.health().sockets).toBe(2);
    expect(await metricOf(server, "cinder_slow_consumer_node_cap_disconnects_total")).toBe(2);
    expect(await metricOf(server, "cinder_slow_consumer_disconnects_total")).toBe(0);
    expect(await metricOf(server, "cinder_buffered_bytes")).toBeLessThanOrEqual(CAP);

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
