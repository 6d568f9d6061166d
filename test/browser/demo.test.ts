/**
 * The demo chat in a real browser: Debian's headless Chromium, driven by playwright-core, loads
 * the page at `/` (and the client bundle from /assets/cinder.min.js) from a real Cinder server.
 * Two users chat and see each other in the presence list; a closed browser drops out of it; a
 * second tab counts as a second meta. Waits are bounded polls, never timing assertions.
 * Needs `npm run build` (for dist/client/cinder.min.js) and /usr/bin/chromium (`npm test` sees to both).
 */
import type { BrowserContext, Page, WebSocketRoute } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { chromiumPerFile } from "../support/chromium.js";
import { perFile, type Opened } from "../support/opened.js";
import { httpUrl } from "../support/server.js";
import demoApp from "../../server/demo/app.js";

const WAIT = { timeout: 10_000 };

/** A running server with the demo page. */
interface Served {
  origin: string;
}

// The page against a one-thread server in this process, and against the CLI that `npm start`
// runs, with two worker threads (the sockets of one room may then sit on different threads).
const targets: [string, (opened: Opened) => Promise<Served>][] = [
  [
    "one thread",
    async (opened) => {
      // The demo app's channels, as `npm start` serves them (room:* keeps history).
      const server = await opened.server({ demo: true, channels: {} });
      demoApp(server);
      return { origin: httpUrl(server, "") };
    },
  ],
  ["the CLI with two worker threads", async (opened) => ({ origin: httpUrl(await opened.node({ workers: 2 }), "") })],
];

let served: Served | undefined;
const chromium = chromiumPerFile();

const url = (path: string) => `${served!.origin}${path}`;

const randomRoom = () => `test-${Math.random().toString(36).slice(2, 10)}`;

const newContext = () => chromium.context();

/** Opens the chat in `context` and waits until the page is online and sees itself present. */
async function openChat(context: BrowserContext, room: string, user?: string): Promise<Page> {
  const page = await context.newPage();
  const query = new URLSearchParams({ room, ...(user ? { user } : {}) });
  await page.goto(url(`/?${query}`));
  if (user) await joined(page, user);
  return page;
}

async function joined(page: Page, user: string): Promise<void> {
  await page.locator('#status[data-state="online"]').waitFor(WAIT);
  await page.locator(`#presence li[data-user="${user}"]`).waitFor(WAIT);
  await page.locator("#send:enabled").waitFor(WAIT);
}

async function say(page: Page, body: string): Promise<void> {
  await page.locator("#message-input").fill(body);
  await page.locator("#send").click();
}

const message = (page: Page, user: string, body: string) =>
  page.locator(`#messages li[data-user="${user}"]`).filter({ hasText: body });

const present = (page: Page, user: string) => page.locator(`#presence li[data-user="${user}"]`);

describe.each(targets)("the demo chat in Chromium, served by %s", (_name, serve) => {
  const opened = perFile();
  beforeAll(async () => {
    served = await serve(opened);
  });

  it("serves the page and the client bundle", async () => {
    const page = await fetch(url("/"));
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).toContain('from "/assets/cinder.min.js"');
    const script = await fetch(url("/assets/cinder.min.js"));
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await script.text()).toMatch(/export\s*\{[^}]*\bSocket\b/);
  });

  it("two users chat, see each other present, and a closed browser leaves the list", async () => {
    const room = randomRoom();
    const adaContext = await newContext();
    const graceContext = await newContext();
    const ada = await openChat(adaContext, room, "ada");
    const grace = await openChat(graceContext, room, "grace");

    await present(ada, "grace").waitFor(WAIT);
    await present(grace, "ada").waitFor(WAIT);
    expect(await present(ada, "grace").textContent()).toBe("grace — 1 tab");
    expect(await ada.locator("#room").textContent()).toContain(`room:${room}`);

    await say(ada, "hello from ada <b>not bold</b>");
    await say(grace, "hi ada, grace here");
    for (const page of [ada, grace]) {
      await message(page, "ada", "hello from ada <b>not bold</b>").waitFor(WAIT);
      await message(page, "grace", "hi ada, grace here").waitFor(WAIT);
    }
    // User text is shown as text, never parsed as HTML.
    expect(await grace.locator("#messages b").count()).toBe(0);
    // The room's topic worker (stats:<room>) counted both messages and both people.
    await ada.locator("#stats", { hasText: "2 messages in the last minute · 2 here" }).waitFor(WAIT);
    // The room's counter: three messages, two people in the last 6 hours, on both pages.
    await say(ada, "and one more");
    for (const page of [ada, grace]) {
      await page.locator("#messages-6h", { hasText: /^3$/ }).waitFor(WAIT);
      await page.locator("#people-6h", { hasText: /^2$/ }).waitFor(WAIT);
    }

    await graceContext.close();
    await present(ada, "grace").waitFor({ state: "detached", ...WAIT });
    expect(await ada.locator("#presence li").evaluateAll((lis) => lis.map((li) => li.getAttribute("data-user")))).toEqual([
      "ada",
    ]);
  });

  it("follows a big room by count with ?presence=count: how many are here, no list", async () => {
    const room = randomRoom();
    const ada = await openChat(await newContext(), room, "ada");
    const page = await (await newContext()).newPage();
    await page.goto(url(`/?${new URLSearchParams({ room, user: "grace", presence: "count" })}`));
    await page.locator("#presence-count", { hasText: "(2)" }).waitFor(WAIT);
    expect(await page.locator("#presence li").count()).toBe(0);
    await present(ada, "grace").waitFor(WAIT);
  });

  it("counts a second tab of the same user, and drops it when the tab closes", async () => {
    const room = randomRoom();
    const adaContext = await newContext();
    const first = await openChat(adaContext, room, "ada");
    const second = await openChat(adaContext, room, "ada");
    const grace = await openChat(await newContext(), room, "grace");

    for (const page of [first, second, grace]) {
      await page.locator('#presence li[data-user="ada"][data-count="2"]').waitFor(WAIT);
    }
    expect(await present(grace, "ada").textContent()).toBe("ada — 2 tabs");

    await second.close();
    await grace.locator('#presence li[data-user="ada"][data-count="1"]').waitFor(WAIT);
    expect(await present(grace, "ada").textContent()).toBe("ada — 1 tab");
  });

  it("a page that lost its connection gets what was said meanwhile when it is back (history)", async () => {
    const room = randomRoom();
    const adaContext = await newContext();
    // Ada's WebSocket goes through the test, which can cut it and keep her away for a while.
    let away = false;
    const links: WebSocketRoute[] = [];
    await adaContext.routeWebSocket(/\/socket\/websocket/, (link) => {
      if (away) return void link.close({ code: 4000, reason: "still away" });
      link.connectToServer();
      links.push(link);
    });
    const ada = await openChat(adaContext, room, "ada");
    const grace = await openChat(await newContext(), room, "grace");
    await present(ada, "grace").waitFor(WAIT);
    away = true;
    await links.at(-1)!.close({ code: 4000, reason: "network cut" });
    await ada.locator('#status[data-state="offline"]').waitFor(WAIT);
    await say(grace, "said while ada was away");
    await message(grace, "grace", "said while ada was away").waitFor(WAIT);
    away = false;
    await message(ada, "grace", "said while ada was away").waitFor(WAIT);
    await ada.locator("#messages li").filter({ hasText: "back online: nothing missed" }).waitFor(WAIT);
    expect(await message(ada, "grace", "said while ada was away").count()).toBe(1);
  });

  it("asks for a name when none is given and remembers it", async () => {
    const room = randomRoom();
    const context = await newContext();
    const page = await openChat(context, room);
    await page.locator("#login").waitFor(WAIT);
    await page.locator("#name-input").fill("  linus  ");
    await page.locator("#name-submit").click();
    await joined(page, "linus");
    expect(await page.locator("#login").isHidden()).toBe(true);

    await page.reload();
    await joined(page, "linus");
    expect(await page.locator("#login").isHidden()).toBe(true);
  });
});
