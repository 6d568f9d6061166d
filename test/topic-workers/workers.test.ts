import { beforeAll, describe, expect, it } from "vitest";
import type { NodeProcess } from "../support/node-process.js";
import { perFile } from "../support/opened.js";
import type { RawClient } from "../support/raw-client.js";
import { waitFor } from "../support/wait.js";

// One node with two worker threads and no Redis: the node's main thread keeps the leases, so a
// topic's worker runs in one thread only, and its broadcasts reach the other thread's sockets.
const opened = perFile();
let node: NodeProcess;
const clients: RawClient[] = [];

beforeAll(async () => {
  node = await opened.node({ name: "W", workers: 2, app: "topic-worker-app.mjs" });
}, 30_000);

interface Tick {
  fence: number;
  n: number;
}

describe("topic workers on a multi-worker node without Redis", () => {
  it("runs one worker for subscribers spread over both threads", async () => {
    const topic = "tw:threads";
    for (let i = 0; i < 16; i++) {
      clients.push(await opened.joinedClient(node, topic));
    }
    const health = (await (await fetch(`http://127.0.0.1:${node.port}/health`)).json()) as { workers: Array<{ sockets: number }> };
    // The kernel spreads sockets over the threads (SO_REUSEPORT): both have some.
    expect(health.workers.map((w) => w.sockets > 0)).toEqual([true, true]);
    const ticks = (client: RawClient) => client.frames.filter((f) => f[3] === "tick").map((f) => f[4] as Tick);
    await waitFor(() => clients.every((client) => (ticks(client).at(-1)?.n ?? 0) >= 15), "every socket to hear 15 ticks", 10_000);
    const starts = node.output.split("\n").filter((line) => line.includes('"msg":"topic worker started"') && line.includes(topic));
    expect(starts).toHaveLength(1);
    expect(new Set(clients.flatMap((client) => ticks(client).map((t) => t.fence))).size).toBe(1);
  }, 30_000);
});
