/**
 * A page served from an origin checkOrigin does not allow gets a bare 403 its script cannot
 * read: the node says in its log which origin it refused and which setting would allow it,
 * without letting clients flood the log.
 */
import { describe, expect, it } from "vitest";
import type { Logger } from "../../server/ops/logger.js";
import { allowHint, ORIGIN_LOG_MAX_ORIGINS, ORIGIN_LOG_WINDOW_MS, OriginGate } from "../../server/endpoint/origin-gate.js";
import { freePort } from "../support/node-process.js";
import { perTest } from "../support/opened.js";
import { RawClient } from "../support/raw-client.js";
import { socketUrl } from "../support/server.js";
import { waitFor } from "../support/wait.js";

const opened = perTest();

const upgrade = (port: number, origin: string) => RawClient.upgradeStatus(socketUrl({ port }), { headers: { origin } });

type LogLine = { level: number; msg: string; origin?: string; transport?: string };
const logLines = (output: string): LogLine[] =>
  output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine);

describe("a refused origin", () => {
  it("is logged with the setting that would allow it, and that setting does", async () => {
    const port = await freePort();
    const page = "http://localhost:5173";
    let node = await opened.node({ port });
    expect(await upgrade(port, page)).toBe(403);
    const refusal = await waitFor(() => logLines(node.output).find((line) => line.origin === page), "the refusal in the log");
    expect(refusal).toMatchObject({ level: 40, transport: "websocket" });
    expect(refusal.msg).toContain(`refused a websocket from origin ${page}`);
    const setting = /CHECK_ORIGIN=(\S+)/.exec(refusal.msg)?.[1];
    expect(setting).toBe(page);

    const longPoll = await fetch(`http://127.0.0.1:${port}/socket/longpoll?vsn=2.0.0`, { headers: { origin: "https://app.example.com" } });
    expect(await longPoll.json()).toEqual({ status: 403 });
    const polled = await waitFor(() => logLines(node.output).find((line) => line.origin === "https://app.example.com"), "the LongPoll refusal in the log");
    expect(polled).toMatchObject({ transport: "longpoll", msg: expect.stringContaining("PUBLIC_URL=https://app.example.com") });

    await node.stop();
    node = await opened.node({ port, env: { CHECK_ORIGIN: setting as string } });
    expect(await upgrade(port, page)).toBe(101);
  });
});

describe("the log of refused origins", () => {
  function gate(clock: { now: number }) {
    const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
    const log = { warn: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }) } as unknown as Logger;
    return { lines, gate: new OriginGate({ checkOrigin: true, publicUrl: undefined }, log, () => clock.now) };
  }

  it("logs each origin once a minute and at most 20 origins a minute, then how many it left out", () => {
    const clock = { now: 0 };
    const { lines, gate: origins } = gate(clock);
    for (let i = 0; i < 100; i++) expect(origins.admits("https://evil.example", "127.0.0.1:4000", "websocket")).toBe(false);
    expect(lines).toHaveLength(1);
    for (let i = 0; i < 50; i++) origins.admits(`https://o${i}.example`, "127.0.0.1:4000", "websocket");
    expect(lines).toHaveLength(ORIGIN_LOG_MAX_ORIGINS);
    clock.now += ORIGIN_LOG_WINDOW_MS;
    origins.admits("https://evil.example", "127.0.0.1:4000", "websocket");
    expect(lines.slice(ORIGIN_LOG_MAX_ORIGINS).map((line) => line.msg)).toEqual([
      `${99 + 50 - (ORIGIN_LOG_MAX_ORIGINS - 1)} more refusals of origins not allowed (checkOrigin (CHECK_ORIGIN)) were not logged one by one`,
      expect.stringContaining("refused a websocket from origin https://evil.example"),
    ]);
    expect(origins.admits("http://127.0.0.1:4000", "127.0.0.1:4000", "websocket")).toBe(true);
    expect(origins.admits("x".repeat(10_000), "127.0.0.1:4000", "websocket")).toBe(false);
    expect((lines.at(-1)?.fields.origin as string).length).toBe(200);
  });

  it("names the setting for each way checkOrigin can be set", () => {
    expect(allowHint({ checkOrigin: ["https://a.example"], publicUrl: undefined }, "https://b.example", "h")).toContain("CHECK_ORIGIN=https://a.example,https://b.example");
    expect(allowHint({ checkOrigin: true, publicUrl: "https://chat.example.com" }, "https://b.example", "h")).toContain("CHECK_ORIGIN=https://chat.example.com,https://b.example");
    expect(allowHint({ checkOrigin: true, publicUrl: undefined }, "null", "h")).toContain("checkOrigin (CHECK_ORIGIN) to false");
    expect(allowHint({ checkOrigin: () => false, publicUrl: undefined }, "https://b.example", "h")).toBe("the checkOrigin (CHECK_ORIGIN) function refused it");
  });
});
