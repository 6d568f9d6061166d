/**
 * The live dashboard in a real browser (Debian's headless Chromium, playwright-core) against a
 * two-node cluster: two CLI node processes sharing a real redis-server. The page asks for the
 * key; with it, it shows both nodes, a topic 50 clients joined, a broadcast burst in the
 * deliveries chart, and a node that drains. Every wait is for something the page shows.
 * Needs `npm run build` (the page's bundle) and /usr/bin/chromium (`npm test` sees to both).
 */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { chromiumPerFile } from "../support/chromium.js";
import type { NodeOptions, NodeProcess } from "../support/node-process.js";
import { perFile, perTest } from "../support/opened.js";
import type { RedisServer } from "../support/redis-server.js";

const KEY = "dashboard-test-key";
const WAIT = { timeout: 15_000 };
const SUBSCRIBERS = 50;
const BURST = 200;

const file = perFile();
const opened = perTest();
let redis: RedisServer;
const nodes = new Map<string, NodeProcess>();
const chromium = chromiumPerFile();

/** A node of the cluster, named `name`, serving the dashboard. */
const dashboardNode = (name: string): NodeOptions => ({ name, redis, env: { DASHBOARD: "true", BROADCAST_KEY: KEY } });

beforeAll(async () => {
  redis = await file.redis();
  const [a, b] = await Promise.all([file.node(dashboardNode("dash-a")), file.node(dashboardNode("dash-b"))]);
  nodes.set("dash-a", a).set("dash-b", b);
}, 60_000);

/** The dashboard of node `name` in a fresh tab, phone-sized. */
function openDashboard(name: string): Promise<Page> {
  return chromium.open(`http://127.0.0.1:${nodes.get(name)!.port}/dashboard`, { viewport: { width: 390, height: 844 } });
}

async function enterKey(page: Page, key: string): Promise<void> {
  await page.locator("#key").fill(key, WAIT);
  await page.locator("#key-form button").click(WAIT);
}

async function unlocked(name: string): Promise<Page> {
  const page = await openDashboard(name);
  await enterKey(page, KEY);
  await page.locator("#board").waitFor({ state: "visible", ...WAIT });
  return page;
}

/** `count` sockets on node `name` joined to `topic`, outside its presence list. */
async function join(name: string, topic: string, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => opened.joinedClient(nodes.get(name)!, topic, { user: `user-${i}`, presence: false })));
}

const chartFigure = (page: Page, chart: string, figure: "peak" | "latest") =>
  page.locator(`#chart-${chart}`).evaluate((element, name) => Number((element as HTMLElement).dataset[name] ?? "0"), figure);

describe("the dashboard", () => {
  it("refuses a wrong key, and ordinary sockets cannot join its topic without the key", async () => {
    const page = await openDashboard("dash-a");
    await enterKey(page, "not-the-key");
    // Waits for the error itself: the element is there (empty) before the refusal arrives.
    await page.locator("#key-error", { hasText: "could not connect with this key" }).waitFor(WAIT);
    expect(await page.locator("#board").isHidden()).toBe(true);

    const client = await opened.raw(nodes.get("dash-a")!);
    expect((await client.join("cinder:dashboard"))[4]).toEqual({ status: "error", response: { reason: "unauthorized" } });
  });

  it("with the right key shows both nodes of the cluster, on a phone-sized screen", async () => {
    const page = await unlocked("dash-a");
    for (const name of ["dash-a", "dash-b"]) await page.locator(`tr[data-node="${name}"][data-status="ok"]`).waitFor(WAIT);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  });

  it("lists a topic 50 clients joined on the other node with 50 subscribers, and looks it up", async () => {
    const page = await unlocked("dash-a");
    const topic = `room:top-${Math.random().toString(36).slice(2, 8)}`;
    await join("dash-b", topic, SUBSCRIBERS);
    await page.locator(`tr[data-topic="${topic}"] td.subscribers`).filter({ hasText: new RegExp(`^${SUBSCRIBERS}$`) }).waitFor(WAIT);

    await page.locator("#search-topic").fill(topic);
    await page.locator("#search button").click();
    await page.locator("#lookup").filter({ hasText: `dash-b: ${SUBSCRIBERS} subscribers` }).waitFor(WAIT);
    expect(await page.locator("#lookup").textContent()).toContain("dash-a: 0 subscribers");
  });

  it("shows a broadcast burst in the deliveries chart", async () => {
    const page = await unlocked("dash-a");
    const topic = `room:burst-${Math.random().toString(36).slice(2, 8)}`;
    await join("dash-b", topic, SUBSCRIBERS);
    // A few samples first: the chart has rates once it saw the nodes twice.
    await page.waitForFunction(() => document.querySelectorAll("#chart-deliveries .legend span").length >= 3, undefined, WAIT);
    const floor = (BURST * SUBSCRIBERS) / 5;
    expect(await chartFigure(page, "deliveries", "peak")).toBeLessThan(floor);
    const port = nodes.get("dash-a")!.port;
    for (let i = 0; i < BURST; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/api/broadcast`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ topic, event: "new_msg", payload: { user: "ops", body: `burst ${i}` } }),
      });
      expect(response.status).toBe(200); // the demo's room:* keeps history: answered once stored
    }
    // 10,000 deliveries on dash-b within a few seconds: a peak of at least a fifth of them per second.
    await page.waitForFunction((min) => Number((document.querySelector("#chart-deliveries") as HTMLElement).dataset.peak) >= min, floor, WAIT);
  });

  it("shows a node stopped with SIGTERM as draining, then no more", async () => {
    nodes.set("dash-c", await file.node(dashboardNode("dash-c")));
    const page = await unlocked("dash-a");
    const row = (status: string) => page.locator(`tr[data-node="dash-c"][data-status="${status}"]`);
    await row("ok").waitFor(WAIT);
    const stopped = nodes.get("dash-c")!.stop("SIGTERM");
    await row("draining").waitFor(WAIT);
    expect(await stopped).toBe(0);
    nodes.delete("dash-c");
    await page.locator(`tr[data-node="dash-c"]`).waitFor({ state: "detached", ...WAIT });
    await page.locator(`tr[data-node="dash-b"][data-status="ok"]`).waitFor(WAIT);
  });
});
