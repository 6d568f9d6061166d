import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeProcess, freePort } from "../support/node-process.js";
import { RawClient, type RawFrame } from "../support/raw-client.js";
import { waitFor } from "../support/wait.js";

// One node with two workers and no Redis: its main thread keeps the history in memory.
const HISTORY_APP = fileURLToPath(new URL("../support/apps/history-app.mjs", import.meta.url));
let node: NodeProcess;

beforeAll(async () => {
  node = await NodeProcess.start(await freePort(), { WORKERS: "2" }, ["--app", HISTORY_APP]);
}, 30_000);

afterAll(async () => {
  await node?.stop();
});

type Recovery = { recovered: boolean; o: number; e: string };

async function join(topic: string, since?: { o: number; e: string }): Promise<{ client: RawClient; recovery: Recovery }> {
  const client = await RawClient.open(`ws://127.0.0.1:${node.port}/socket/websocket?vsn=2.0.0`);
  client.send(["j", "j", topic, "phx_join", { user: "u", presence: false, ...(since ? { _since: since } : {}) }]);
  const reply = (await client.reply("j"))[4] as { status: string; response: { _recovery: Recovery } };
  expect(reply.status).toBe("ok");
  return { client, recovery: reply.response._recovery };
}

const offsets = (client: RawClient) => client.frames.filter((f: RawFrame) => f[3] === "new_msg").map((f) => (f[4] as { _o: number })._o);

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
