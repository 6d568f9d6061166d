import type { Browser, BrowserContext, BrowserContextOptions, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { launchChromium } from "../../bench/lib/chromium.js";

export { launchChromium } from "../../bench/lib/chromium.js";

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
