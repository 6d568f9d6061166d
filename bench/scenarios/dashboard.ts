/**
 * What one open dashboard costs the server: two Cinder nodes through Redis under a steady load
 * (bench/lib/dashboard-load.ts), measured in windows without and with one dashboard open in
 * headless Chromium (Debian's /usr/bin/chromium), alternating. Reports the nodes' extra CPU
 * (both nodes together, % of one core) and the bytes a second the dashboard's socket receives
 * and sends, medians of the runs; then keeps a dashboard open a while and saves a screenshot.
 *   npm run bench -- dashboard [--runs 3] [--window 10] [--sockets 300] [--topics 12] [--period 100]
 *                               [--screenshot bench/results/dashboard.png] [--screenshot-after 90]
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Browser, Page } from "playwright-core";
import { startLocalCluster } from "../lib/cluster-processes.js";
import { startDashboardLoad } from "../lib/dashboard-load.js";
import { launchChromium } from "../lib/chromium.js";
import { parseFlags } from "../lib/flags.js";
import { sampleProcess } from "../lib/proc-stats.js";
import { repoRoot } from "../lib/repo-root.js";
import { median } from "../lib/stats.js";

const KEY = "bench-dashboard-key";

interface Traffic {
  received: number;
  sent: number;
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const runs = f.number("runs", 3);
  const windowS = f.number("window", 10);
  const screenshot = resolve(repoRoot(), f.string("screenshot", "bench/results/dashboard.png"));
  const screenshotAfter = f.number("screenshot-after", 90);
  // Redis and both nodes on core 0; the load client and the browser on core 1.
  const cluster = await startLocalCluster(2, 0, true, { env: { DASHBOARD: "true", DASHBOARD_KEY: KEY } });
  const browser = await launchChromium();
  const load = await startDashboardLoad(cluster.port, f.number("sockets", 300), f.number("topics", 12), f.number("period", 100));
  const origin = `http://127.0.0.1:${cluster.port}`;
  const cpuOfNodes = () => cluster.nodePids.reduce((total, pid) => total + sampleProcess(pid).cpuSeconds, 0);
  const without: number[] = [];
  const withOne: number[] = [];
  const received: number[] = [];
  const sent: number[] = [];
  try {
    await sleep(3000); // joins settle
    for (let run = 0; run < runs; run++) {
      without.push(await cpuPercent(cpuOfNodes, windowS));
      const { page, traffic } = await openDashboard(browser, origin, { width: 1280, height: 900 });
      await sleep(2000); // the first rounds (page load, first views) are not the steady cost
      const start = { ...traffic };
      withOne.push(await cpuPercent(cpuOfNodes, windowS));
      received.push((traffic.received - start.received) / windowS);
      sent.push((traffic.sent - start.sent) / windowS);
      await page.context().close();
      console.log(`run ${run + 1}: nodes' CPU ${without[run].toFixed(1)} % without, ${withOne[run].toFixed(1)} % with one dashboard; ${received[run].toFixed(0)} B/s to it`);
    }
    const { page } = await openDashboard(browser, origin, { width: 1280, height: 1000 });
    await sleep(screenshotAfter * 1000);
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    await page.context().close();
  } finally {
    await load.stop();
    await browser.close();
    await cluster.stop();
  }
  console.log(`\n2 nodes via Redis, ${runs} runs of ${windowS} s, medians:\n`);
  console.log("| what | figure |\n|---|---:|");
  console.log(`| nodes' CPU without a dashboard (both nodes, % of one core) | ${median(without).toFixed(1)} % |`);
  console.log(`| … with one dashboard open | ${median(withOne).toFixed(1)} % |`);
  // Paired: each run's with-window against the without-window just before it (the load drifts slowly).
  console.log(`| one open dashboard costs (median of the runs' differences) | ${median(withOne.map((cpu, i) => cpu - without[i])).toFixed(1)} % |`);
  console.log(`| bytes a second to the dashboard (WebSocket payloads) | ${median(received).toFixed(0)} B/s |`);
  console.log(`| bytes a second from it | ${median(sent).toFixed(0)} B/s |`);
  console.log(`\nscreenshot: ${screenshot}`);
}

/** CPU the nodes used over the next `seconds`, % of one core. */
async function cpuPercent(cpuSeconds: () => number, seconds: number): Promise<number> {
  const before = cpuSeconds();
  await sleep(seconds * 1000);
  return ((cpuSeconds() - before) / seconds) * 100;
}

async function openDashboard(browser: Browser, origin: string, viewport: { width: number; height: number }): Promise<{ page: Page; traffic: Traffic }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const traffic: Traffic = { received: 0, sent: 0 };
  page.on("websocket", (socket) => {
    socket.on("framereceived", (frame) => (traffic.received += Buffer.byteLength(frame.payload)));
    socket.on("framesent", (frame) => (traffic.sent += Buffer.byteLength(frame.payload)));
  });
  await page.goto(`${origin}/dashboard`);
  await page.locator("#key").fill(KEY);
  await page.locator("#key-form button").click();
  await page.locator("#nodes tr[data-node]").first().waitFor({ timeout: 15_000 });
  return { page, traffic };
}
