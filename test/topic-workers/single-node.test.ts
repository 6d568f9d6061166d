import { describe, expect, it } from "vitest";
import { ok, type TopicWorkerContext } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import type { RawClient } from "../support/raw-client.js";
import { waitFor } from "../support/wait.js";

// One node without Redis: the same API, leases kept in memory.
const opened = perTest();

const plain = { join: () => ok({}) };
const SCORES = { channels: { "score:*": plain, "room:*": plain } };


/** A worker that says "started" on its topic, and records its life. */
function recorder(linger: number) {
  const life: string[] = [];
  const contexts: TopicWorkerContext[] = [];
  return {
    life,
    contexts,
    spec: {
      linger,
      async start(topic: string, ctx: TopicWorkerContext) {
        life.push(`start ${topic}`);
        contexts.push(ctx);
        await ctx.broadcast("started", { fence: ctx.fence });
        return { stop: () => void life.push(`stop ${topic}`) };
      },
    },
  };
}

describe("topic workers on one node", () => {
  it("starts with the first subscriber, broadcasts to it, and runs once for many subscribers", async () => {
    const worker = recorder(60_000);
    const server = (await opened.server(SCORES)).topicWorker("score:*", worker.spec);
    const first = await opened.joinedClient(server, "score:1");
    const started = await first.next((f) => f[3] === "started", "the worker's broadcast");
    expect((started[4] as { fence: number }).fence).toBeGreaterThan(0);
    await opened.joinedClient(server, "score:1");
    await opened.joinedClient(server, "score:2");
    await waitFor(() => worker.life.length === 2, "the second topic's worker");
    expect(worker.life.sort()).toEqual(["start score:1", "start score:2"]);
    expect(worker.contexts[0].presenceCount()).toBe(0);
  });

  it("stops after linger once the last subscriber left, and keeps running if one joins during linger", async () => {
    const worker = recorder(400);
    const server = (await opened.server(SCORES)).topicWorker("score:*", worker.spec);
    const a = await opened.joinedClient(server, "score:linger");
    await waitFor(() => worker.life.includes("start score:linger"), "the worker");
    a.leave("score:linger");
    // Back during the linger: the same worker carries on.
    const b = await opened.joinedClient(server, "score:linger");
    b.leave("score:linger");
    await waitFor(() => worker.life.includes("stop score:linger"), "the worker to stop after linger");
    expect(worker.life).toEqual(["start score:linger", "stop score:linger"]);
    expect(worker.contexts[0].signal.aborted).toBe(true);
    // A later subscriber starts a new worker, with a larger fencing number.
    await opened.joinedClient(server, "score:linger");
    await waitFor(() => worker.life.length === 3, "a new worker");
    expect(worker.contexts[1].fence).toBeGreaterThan(worker.contexts[0].fence);
  });

  it("keeps checkpoint state for the next holder", async () => {
    const contexts = new Map<string, TopicWorkerContext>();
    const worker = (_client: RawClient) => contexts.get("score:state") as TopicWorkerContext;
    const server = (await opened.server(SCORES)).topicWorker("score:*", {
      linger: 0,
      async start(topic, ctx) {
        const seen = (await ctx.state.get<number>("runs")) ?? 0;
        expect(await ctx.state.set("runs", seen + 1)).toBe(true);
        contexts.set(topic, ctx);
        await ctx.broadcast("runs", { seen });
      },
    });
    const a = await opened.joinedClient(server, "score:state");
    await a.next((f) => f[3] === "runs", "the first run");
    a.leave("score:state");
    await waitFor(async () => (await metricOf(server, "cinder_topic_worker_stops_total", { reason: "linger" })) === 1, "the worker to stop");
    const b = await opened.joinedClient(server, "score:state");
    const second = await b.next((f) => f[3] === "runs", "the second run");
    expect(second[4]).toEqual({ seen: 1 });
    expect(await worker(b).state.set("other", 1)).toBe(true);
    await expect(worker(b).state.set("big", "x".repeat(70_000))).rejects.toThrow(/at most 65536 bytes/);
    await expect(worker(b).state.set("fn", () => 1)).rejects.toThrow(/must be a JSON value/);
  });

  it("logs a start that throws, retries it with backoff, and keeps serving", async () => {
    let attempts = 0;
    const server = (await opened.server(SCORES)).topicWorker("score:*", {
      start(topic, ctx) {
        attempts++;
        if (attempts === 1) throw new Error("no score feed yet");
        if (attempts === 2) return Promise.reject(new Error("still no score feed"));
        void ctx.broadcast("live", { attempts });
      },
    });
    const client = await opened.joinedClient(server, "score:flaky");
    const live = await waitFor(() => client.frames.find((f) => f[3] === "live"), "the third attempt", 10_000);
    expect(live[4]).toEqual({ attempts: 3 });
    const starts = (outcome?: string) => metricOf(server, "cinder_topic_worker_starts_total", outcome === undefined ? {} : { outcome });
    expect([await starts("failed"), await starts("ok"), await starts()]).toEqual([2, 1, 3]);
    // The node still serves other joins.
    await opened.joinedClient(server, "room:other");
  }, 15_000);

  it("lets a worker follow another topic's broadcasts and presence", async () => {
    const seen: string[] = [];
    const server = (await opened.server(SCORES)).topicWorker("score:*", {
      start(topic, ctx) {
        ctx.subscribe("room:feed", (event, payload) => {
          seen.push(`${event}:${JSON.stringify(payload)}`);
          void ctx.broadcast("relayed", { event, count: ctx.presenceCount("room:feed") });
        });
      },
    });
    const watcher = await opened.joinedClient(server, "score:relay");
    await waitFor(() => server.health().topics === 2, "the worker to subscribe to room:feed");
    server.broadcast("room:feed", "goal", { minute: 90 });
    const relayed = await watcher.next((f) => f[3] === "relayed", "the relayed broadcast");
    expect(relayed[4]).toEqual({ event: "goal", count: 0 });
    expect(seen).toEqual(['goal:{"minute":90}']);
  });

  it("refuses to broadcast to a topic that keeps history (its broadcasts are live only)", async () => {
    const server = await opened.server({ channels: { "log:*": { join: () => ok({}), history: { size: 10, ttlMs: 60_000 } } } });
    const context = new Promise<TopicWorkerContext>((resolve) => server.topicWorker("log:*", { start: (_topic, ctx) => resolve(ctx) }));
    await opened.joinedClient(server, "log:1");
    await expect((await context).broadcast("line", { text: "x" })).rejects.toThrow(/keeps history: a topic worker's broadcasts are live only/);
  });

  it("refuses bad declarations with a clear error", async () => {
    const server = await opened.server(SCORES);
    expect(() => server.topicWorker("a*b", { start() {} })).toThrow(/"\*" is only allowed at the end/);
    expect(() => server.topicWorker("x:*", {} as never)).toThrow(/needs a start function/);
    expect(() => server.topicWorker("x:*", { start() {}, linger: -1 })).toThrow(/linger must be/);
    server.topicWorker("x:*", { start() {} });
    expect(() => server.topicWorker("x:*", { start() {} })).toThrow(/already declared/);
  });
});
