import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";

/** Debian's Chromium (`npm test` installs it). */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Headless Chromium for the browser tests. Without the background-networking flags it keeps
 * trying to reach Google's hosts, which a closed network refuses.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: sudo apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Chromium for a test file: launched before its tests, closed after them. `open` loads a page in
 * a tab of its own; the tabs close after each test, which then fails if a page threw.
 */
export function chromiumPerFile(): { open(url: string, options?: BrowserContextOptions): Promise<Page> } {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  beforeAll(async () => {
    browser = await launchChromium();
  }, 30_000);
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    expect(pageErrors.splice(0), "errors thrown by the page").toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    async open(url, options) {
      const context = await (browser as Browser).newContext(options);
      contexts.push(context);
      const page = await context.newPage();
      page.on("pageerror", (error) => pageErrors.push(error.message));
      await page.goto(url);
      return page;
    },
  };
}
