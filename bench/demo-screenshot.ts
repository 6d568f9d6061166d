/**
 * The README's picture of the demo chat (docs/images/demo.png): a demo node as `npm start` serves
 * it, three people in one room (one of them on two tabs) in headless Chromium, a short
 * conversation, and the page of one of them once the room's counts have caught up.
 *   npm run docs:screenshot [-- --out docs/images/demo.png]
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { startNode } from "../server/index.js";
import { launchChromium } from "./lib/chromium.js";
import { parseFlags } from "./lib/flags.js";
import { repoRoot } from "./lib/repo-root.js";

const ROOM = "lobby";
const VIEWPORT = { width: 880, height: 400 };
/** Sharp on high-density screens, and still a small file. */
const SCALE = 1.5;
const WAIT = { timeout: 15_000 };
const CONVERSATION: Array<[user: string, body: string]> = [
  ["grace", "Morning! Is the deploy still on for ten?"],
  ["linus", "Yes. Node 2 drains first; its clients move over a batch at a time."],
  ["ada", "My laptop slept through the last one and still got every message when it woke up."],
  ["grace", "That's the room's history: it replays what a client missed."],
  ["linus", "The dashboard is open if anyone wants to watch the sockets move."],
];

const f = parseFlags(process.argv.slice(2));
const out = resolve(repoRoot(), f.string("out", "docs/images/demo.png"));
const node = await startNode({ app: new URL("../server/demo/app.js", import.meta.url), port: 0, host: "127.0.0.1", logLevel: "warn", demo: true, workers: 1 });
const browser = await launchChromium();
try {
  const origin = `http://127.0.0.1:${node.port}`;
  const ada = await openChat(browser, origin, "ada");
  const grace = await openChat(browser, origin, "grace");
  await grace.context().newPage().then((tab) => tab.goto(chatUrl(origin, "grace")));
  const linus = await openChat(browser, origin, "linus");
  const pages: Record<string, Page> = { ada, grace, linus };
  await ada.locator('#presence li[data-user="grace"][data-count="2"]').waitFor(WAIT);
  await ada.locator('#presence li[data-user="linus"]').waitFor(WAIT);

  for (const [user, body] of CONVERSATION) {
    await pages[user].locator("#message-input").fill(body);
    await pages[user].locator("#send").click();
    await ada.locator(`#messages li[data-user="${user}"]`, { hasText: body }).waitFor(WAIT);
  }
  // The room's counter and its topic worker report once a second: wait until both caught up.
  await ada.locator("#stats", { hasText: `${CONVERSATION.length} messages in the last minute · 3 here` }).waitFor(WAIT);
  await ada.locator("#messages-6h", { hasText: new RegExp(`^${CONVERSATION.length}$`) }).waitFor(WAIT);
  await ada.locator("#people-6h", { hasText: /^3$/ }).waitFor(WAIT);
  await ada.locator("#message-input").fill("See you at the standup");

  mkdirSync(dirname(out), { recursive: true });
  await ada.screenshot({ path: out });
  console.log(`screenshot: ${out}`);
} finally {
  await browser.close();
  await node.close();
}

function chatUrl(origin: string, user: string): string {
  return `${origin}/?${new URLSearchParams({ room: ROOM, user })}`;
}

/** A person's own browser (a context of their own) on the chat, once it is online and lists them. */
async function openChat(browser: Browser, origin: string, user: string): Promise<Page> {
  const page = await (await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: SCALE })).newPage();
  await page.goto(chatUrl(origin, user));
  await page.locator('#status[data-state="online"]').waitFor(WAIT);
  await page.locator(`#presence li[data-user="${user}"]`).waitFor(WAIT);
  return page;
}
