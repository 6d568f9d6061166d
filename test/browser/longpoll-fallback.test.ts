/**
 * The demo chat in headless Chromium behind a proxy that refuses WebSocket upgrades (as some
 * corporate proxies do): the page falls back to LongPoll by itself (`longPollFallbackMs`),
 * chats with a user on a WebSocket, and both see each other in the presence list. Waits are
 * bounded polls, never timing assertions. Needs `npm run build` and /usr/bin/chromium.
 */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import demoApp from "../../server/demo/app.js";
import type { CinderServer } from "../../server/index.js";
import { chromiumPerFile } from "../support/chromium.js";
import { metricOf } from "../support/metrics.js";
import { perFile } from "../support/opened.js";
import { WebSocketBlockingProxy } from "../support/websocket-blocking-proxy.js";

const WAIT = { timeout: 15_000 };

const opened = perFile();
let server: CinderServer | undefined;
let proxy: WebSocketBlockingProxy | undefined;
const chromium = chromiumPerFile();

beforeAll(async () => {
  // A short poll window, so a closed page's session (no more polls) ends within 3 s.
  server = await opened.server({ demo: true, channels: {}, longPollWindowMs: 2000 });
  demoApp(server);
  proxy = opened.keep(await WebSocketBlockingProxy.start(server.port), (p) => p.stop());
});

async function openChat(origin: string, room: string, user: string): Promise<Page> {
  const page = await chromium.open(`${origin}/?${new URLSearchParams({ room, user })}`);
  await page.locator('#status[data-state="online"]').waitFor(WAIT);
  return page;
}

const present = (page: Page, user: string) => page.locator(`#presence li[data-user="${user}"]`);
const message = (page: Page, user: string, body: string) => page.locator(`#messages li[data-user="${user}"]`).filter({ hasText: body });

async function say(page: Page, body: string): Promise<void> {
  await page.locator("#send:enabled").waitFor(WAIT);
  await page.locator("#message-input").fill(body);
  await page.locator("#send").click();
}

describe("the demo chat when a proxy blocks WebSockets", () => {
  it("falls back to LongPoll, chats with a WebSocket user, and presence shows both", async () => {
    const room = `fallback-${Math.random().toString(36).slice(2, 10)}`;
    const ada = await openChat(proxy!.origin, room, "ada");
    const grace = await openChat(`http://127.0.0.1:${server!.port}`, room, "grace");

    // Ada's WebSocket was refused by the proxy, so her page runs over LongPoll; Grace's did not.
    await ada.locator('#status[data-transport="longpoll"]').waitFor(WAIT);
    await grace.locator('#status[data-transport="websocket"]').waitFor(WAIT);
    expect(proxy!.refusedUpgrades).toBeGreaterThan(0);
    expect(await ada.evaluate(() => sessionStorage.getItem("phx:fallback:LongPoll"))).toBe("true");

    for (const page of [ada, grace]) {
      await present(page, "ada").waitFor(WAIT);
      await present(page, "grace").waitFor(WAIT);
    }
    await say(ada, "hello over long polling");
    await say(grace, "hello over a websocket");
    for (const page of [ada, grace]) {
      await message(page, "ada", "hello over long polling").waitFor(WAIT);
      await message(page, "grace", "hello over a websocket").waitFor(WAIT);
    }

    // The server counts Ada's session as a LongPoll session.
    expect(await metricOf(server!, "cinder_longpoll_sessions")).toBe(1);

    // Ada closes her page: her session gets no more polls, ends, and Grace's list drops her.
    await ada.context().close();
    await present(grace, "ada").waitFor({ state: "detached", ...WAIT });
  });
});
