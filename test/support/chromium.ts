import type { Browser, BrowserContext, BrowserContextOptions, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { launchChromium } from "../../bench/lib/chromium.js";

export { launchChromium } from "../../bench/lib/chromium.js";

/**
 * Chromium for a test file: launched before its tests, closed after them. `context` is a browser
 * of its own (cookies, storage), `open` loads a page in a tab of its own context; the contexts
 * close after each test, which then fails if one of their pages threw.
 */
export function chromiumPerFile(): { context(options?: BrowserContextOptions): Promise<BrowserContext>; open(url: string, options?: BrowserContextOptions): Promise<Page> } {
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
  const chromium = {
    async context(options?: BrowserContextOptions) {
      const context = await (browser as Browser).newContext(options);
      contexts.push(context);
      context.on("page", (page) => page.on("pageerror", (error) => pageErrors.push(`${page.url()}: ${error.message}`)));
      return context;
    },
    async open(url: string, options?: BrowserContextOptions) {
      const page = await (await chromium.context(options)).newPage();
      await page.goto(url);
      return page;
    },
  };
  return chromium;
}
