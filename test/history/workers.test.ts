import { beforeAll, describe, expect, it } from "vitest";
import type { NodeProcess } from "../support/node-process.js";
import { perFile } from "../support/opened.js";
import { waitFor } from "../support/wait.js";
import { joinWithRecovery, offsets, type Since } from "./support.js";

// One node with two workers and no Redis: its main thread keeps the history in memory.
const opened = perFile();
let node: NodeProcess;

beforeAll(async () => {
  node = await opened.node({ workers: 2, app: "history-app.mjs" });
}, 30_000);

const join = (topic: string, since?: Since) => joinWithRecovery(opened, node, topic, since);

describe("history on a node with several workers and no Redis", () => {
  it("numbers broadcasts from every worker in one sequence and recovers a rejoin on any worker", async () => {
    const topic = "room:workers";
    // Several publishers: the kernel spreads their sockets over the two workers.
    const publishers = await Promise.all([join(topic), join(topic), join(topic), join(topic)]);
    const subscriber = await join(topic);
    for (let i = 1; i <= 40; i++) publishers[i % 4].client.send(["j", `p${i}`, topic, "new_msg", { body: `m${i}` }]);
    await waitFor(() => offsets(subscriber.client).length === 40, "forty messages");
    expect(offsets(subscriber.client)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    subscriber.client.close();
    for (let i = 41; i <= 60; i++) publishers[i % 4].client.send(["j", `p${i}`, topic, "new_msg", { body: `m${i}` }]);
    await waitFor(() => offsets(publishers[0].client).length === 60, "the publishers to see all sixty");
    const back = await join(topic, { o: 40, e: subscriber.recovery.e });
    expect(back.recovery).toEqual({ recovered: true, o: 60, e: subscriber.recovery.e });
    await waitFor(() => offsets(back.client).length === 20, "the twenty missed");
    expect(offsets(back.client)).toEqual(Array.from({ length: 20 }, (_, i) => i + 41));
  });
});
