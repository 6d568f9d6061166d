import { fileURLToPath } from "node:url";
import { Socket, type Channel } from "phoenix";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { NodeProcess, freePort } from "../support/node-process.js";
import { waitFor } from "../support/wait.js";

// One node without Redis, three worker threads: the main thread keeps the counters in memory.
const APP = fileURLToPath(new URL("../support/apps/counter-app.mjs", import.meta.url));
let node: NodeProcess;
const sockets: Socket[] = [];

beforeAll(async () => {
  node = await NodeProcess.start(await freePort(), { WORKERS: "3", APP, COUNT_INTERVAL_MS: "100" });
}, 30_000);

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  await node?.stop();
});

function channelOn(topic: string): Channel {
  const socket = new Socket(`ws://127.0.0.1:${node.port}/socket`, { transport: WebSocket as unknown as typeof globalThis.WebSocket });
  socket.connect();
  sockets.push(socket);
  return socket.channel(topic, {});
}

function ask<T>(channel: Channel, event: string, payload: object): Promise<T> {
  return new Promise((resolve, reject) => channel.push(event, payload).receive("ok", resolve).receive("error", reject));
}

describe("counters on a multi-worker node without Redis", () => {
  it("increments from every worker add up, and every worker reads the sum", async () => {
    const channels = Array.from({ length: 8 }, () => channelOn("count:w"));
    await Promise.all(channels.map((c) => new Promise((resolve) => c.join().receive("ok", resolve))));
    await Promise.all(channels.map((c, i) => ask(c, "incr", { key: "room:w", times: 10, by: i + 1 })));
    const expected = 10 * (8 * 9) / 2;
    const values = () => Promise.all(channels.map((c) => ask<{ value: number }>(c, "read", { key: "room:w" }).then((r) => r.value)));
    // A worker hands its own increments over before it asks; the others hand theirs over within 100 ms.
    await waitFor(async () => (await values()).every((v) => v === expected), "every worker to read the sum");
    expect(await values()).toEqual(channels.map(() => expected));

    const watcher = channelOn("counter:room:w");
    const reply = await new Promise<{ value: number }>((resolve) => watcher.join().receive("ok", resolve));
    expect(reply.value).toBe(expected);
    const pushes: number[] = [];
    watcher.on("counter", ({ value }: { value: number }) => void pushes.push(value));
    await ask(channels[3], "incr", { key: "room:w", by: 5 });
    await waitFor(() => pushes.at(-1) === expected + 5, "the watcher to see the new count");
  });
});
