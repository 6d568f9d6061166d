/**
 * The built-in pages on a server with built-in auth (Phoenix.Token), in Debian's headless
 * Chromium: the dashboard works with its key, although its page holds no user token; the demo
 * says it needs a token instead of retrying forever, and chats with one given in `?token=`.
 * Every wait is for something the page shows. Needs `npm run build` and /usr/bin/chromium.
 */
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import demoApp from "../../server/demo/app.js";
import { signPhoenixToken, type CinderServer } from "../../server/index.js";
import { SALT, SECRET_KEY_BASE, clientWithToken, openWithToken } from "../auth/support.js";
import { chromiumPerFile } from "../support/chromium.js";
import { metricOf } from "../support/metrics.js";
import { perFile, perTest } from "../support/opened.js";
import { RawClient } from "../support/raw-client.js";
import { socketUrl } from "../support/server.js";

const KEY = "dashboard-key-under-auth";
const WAIT = { timeout: 10_000 };

const file = perFile();
const opened = perTest();
let server: CinderServer;
const chromium = chromiumPerFile();

beforeAll(async () => {
  server = await file.server({
    secretKeyBase: SECRET_KEY_BASE,
    auth: { phoenixToken: { salt: SALT } },
    demo: true,
    dashboard: true,
    dashboardKey: KEY,
    nodeName: "guarded",
    channels: {},
  });
  demoApp(server);
});

const open = (path: string): Promise<Page> => chromium.open(`http://127.0.0.1:${server.port}${path}`);

const dashboardSocket = () => socketUrl(server, "cinder_dashboard=1&vsn=2.0.0");
const rejected = (reason: string) => metricOf(server, "cinder_connects_rejected_total", { reason });

describe("the dashboard under auth", () => {
  it("asks for the key, refuses a wrong one, and opens with the right one", async () => {
    const page = await open("/dashboard");
    await page.locator("#connection", { hasText: "key needed" }).waitFor(WAIT);
    expect(await page.locator("#key-error").textContent()).toBe("");

    await page.locator("#key").fill("not-the-key");
    await page.locator("#key-form button").click();
    await page.locator("#key-error", { hasText: "could not connect with this key" }).waitFor(WAIT);
    expect(await page.locator("#board").isHidden()).toBe(true);

    await page.locator("#key").fill(KEY);
    await page.locator("#key-form button").click();
    await page.locator("#board").waitFor({ state: "visible", ...WAIT });
    await page.locator("#connection", { hasText: "live" }).waitFor(WAIT);
    await page.locator('tr[data-node="guarded"][data-status="ok"]').waitFor(WAIT);
  });

  it("lets the key's socket join the dashboard's topic and nothing else; without the key it is refused", async () => {
    const before = await rejected("dashboard_key");
    expect(await openWithToken(opened, dashboardSocket(), "wrong")).toBe(403);
    await expect(RawClient.open(dashboardSocket())).rejects.toMatchObject({ status: 403 });
    expect(await rejected("dashboard_key")).toBe(before + 2);

    const client = await clientWithToken(opened, dashboardSocket(), KEY);
    client.send(["1", "1", "cinder:dashboard", "phx_join", { key: KEY }]);
    expect((await client.reply("1"))[4]).toEqual({ status: "ok", response: {} });
    client.send(["2", "2", "room:lobby", "phx_join", { user: "intruder" }]);
    expect((await client.reply("2"))[4]).toEqual({ status: "error", response: { reason: "topic not allowed on this socket" } });
    client.send(["3", "3", "counter:room:lobby", "phx_join", {}]);
    expect((await client.reply("3"))[4]).toEqual({ status: "error", response: { reason: "topic not allowed on this socket" } });
    // The dashboard key is no user token: without the dashboard's param it opens nothing.
    expect(await openWithToken(opened, server, KEY)).toBe(403);
  });
});

describe("the demo under auth", () => {
  it("says it needs a token instead of retrying without one", async () => {
    const before = await rejected("token_missing");
    const page = await open("/?room=guarded&user=ada");
    await page.locator("#status", { hasText: "token required" }).waitFor(WAIT);
    expect(await page.locator("#messages .notice").textContent()).toContain("This server requires a token (auth is on): open this page with ?token=");
    // It never tried: no socket was refused for a missing token.
    expect(await rejected("token_missing")).toBe(before);
  });

  it("says the token was refused when it is", async () => {
    const page = await open("/?room=guarded&user=ada&token=not-a-token");
    await page.locator("#status", { hasText: "token refused" }).waitFor(WAIT);
    await page.locator("#messages .notice", { hasText: "The server refused this token (auth is on)" }).waitFor(WAIT);
  });

  it("chats with a token given in ?token=", async () => {
    const token = signPhoenixToken(SECRET_KEY_BASE, SALT, "ada");
    const page = await open(`/?room=guarded&user=ada&token=${encodeURIComponent(token)}`);
    await page.locator('#status[data-state="online"]').waitFor(WAIT);
    await page.locator("#send:enabled").waitFor(WAIT);
    await page.locator("#message-input").fill("signed in");
    await page.locator("#send").click();
    await page.locator('#messages li[data-user="ada"]', { hasText: "signed in" }).waitFor(WAIT);
  });
});
