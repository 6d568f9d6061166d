/**
 * The demo page's presence list in headless Chromium (Debian's /usr/bin/chromium): how long
 * until a page that opens shows up in another page's list, and until a browser that closes
 * is gone from it. Each round uses a fresh room and two fresh browser contexts.
 *   npm run bench -- browser-presence [--runs 7] [--workers 1]
 * Wall-clock times include the browser's own work (page load, closing the context).
 */
import { performance } from "node:perf_hooks";
import type { Browser } from "playwright-core";
import { startNode } from "../../server/index.js";
import { launchChromium } from "../lib/chromium.js";
import { parseFlags } from "../lib/flags.js";
import { median } from "../lib/stats.js";


export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const runs = f.number("runs", 7);
  const workers = f.number("workers", 1);
  const app = new URL("../../server/demo/app.js", import.meta.url);
  const node = await startNode({ app, port: 0, host: "127.0.0.1", logLevel: "warn", demo: true, workers });
  const browser = await launchChromium();
  const appear: number[] = [];
  const leave: number[] = [];
  try {
    for (let round = 0; round < runs; round++) {
      const times = await oneRound(browser, `http://127.0.0.1:${node.port}`, `bench-${round}`);
      appear.push(times.appear);
      leave.push(times.leave);
    }
  } finally {
    await browser.close();
    await node.close();
  }
  const row = (name: string, ms: number[]) =>
    `| ${name} | ${Math.min(...ms).toFixed(0)} | ${median(ms).toFixed(0)} | ${Math.max(...ms).toFixed(0)} |`;
  console.log(`\nworkers: ${workers}, rounds: ${runs}\n`);
  console.log("| ms | min | median | max |\n|---|---:|---:|---:|");
  console.log(row("a page opens → it is in the other page's list", appear));
  console.log(row("its browser closes → it is gone from the list", leave));
}

async function oneRound(browser: Browser, origin: string, room: string): Promise<{ appear: number; leave: number }> {
  const watcher = await browser.newContext();
  const visitor = await browser.newContext();
  try {
    const watching = await watcher.newPage();
    await watching.goto(`${origin}/?room=${room}&user=ada`);
    await watching.locator('#presence li[data-user="ada"]').waitFor();
    const grace = watching.locator('#presence li[data-user="grace"]');

    const opened = performance.now();
    await (await visitor.newPage()).goto(`${origin}/?room=${room}&user=grace`);
    await grace.waitFor();
    const appear = performance.now() - opened;

    const closed = performance.now();
    await visitor.close();
    await grace.waitFor({ state: "detached" });
    return { appear, leave: performance.now() - closed };
  } finally {
    await Promise.all([watcher.close(), visitor.close()]);
  }
}
