import type { Channel } from "phoenix";
import { beforeAll, describe, expect, it } from "vitest";
import type { NodeProcess } from "../support/node-process.js";
import { perFile } from "../support/opened.js";
import { joined } from "../support/phoenix-channel.js";
import { waitFor } from "../support/wait.js";
import { ask } from "./support.js";

// One node without Redis, three worker threads: the main thread keeps the counters in memory.
const opened = perFile();
let node: NodeProcess;

beforeAll(async () => {
  node = await opened.node({ workers: 3, app: "counter-app.mjs", env: { COUNT_INTERVAL_MS: "100" } });
}, 30_000);

const channelOn = (topic: string): Channel => opened.phoenix(node.port).channel(topic, {});

describe("counters on a multi-worker node without Redis", () => {
  it("increments from every worker add up, and every worker reads the sum", async () => {
    const channels = Array.from({ length: 8 }, () => channelOn("count:w"));
    await Promise.all(channels.map((c) => joined(c)));
    await Promise.all(channels.map((c, i) => ask(c, "incr", { key: "room:w", times: 10, by: i + 1 })));
    const expected = 10 * (8 * 9) / 2;
    const values = () => Promise.all(channels.map((c) => ask<{ value: number }>(c, "read", { key: "room:w" }).then((r) => r.value)));
    // A worker hands its own increments over before it asks; the others hand theirs over within 100 ms.
    await waitFor(async () => (await values()).every((v) => v === expected), "every worker to read the sum");
    expect(await values()).toEqual(channels.map(() => expected));

    const watcher = channelOn("counter:room:w");
    const reply = (await joined(watcher)) as { value: number };
    expect(reply.value).toBe(expected);
    const pushes: number[] = [];
    watcher.on("counter", ({ value }: { value: number }) => void pushes.push(value));
    await ask(channels[3], "incr", { key: "room:w", by: 5 });
    await waitFor(() => pushes.at(-1) === expected + 5, "the watcher to see the new count");
  });
});
