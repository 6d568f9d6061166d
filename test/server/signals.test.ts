import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CLOSE } from "../../server/index.js";
import { portRefusal } from "../../server/endpoint/listen-error.js";
import { GroupProcess, logLines } from "../support/group-process.js";
import { freePort } from "../support/node-process.js";
import { perTest } from "../support/opened.js";
import type { RawClient } from "../support/raw-client.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DRAIN_APP = fileURLToPath(new URL("../support/apps/drain-on-signals.mjs", import.meta.url));

const opened = perTest();

function run(command: string, args: string[], env: Record<string, string>): GroupProcess {
  return opened.keep(new GroupProcess(command, args, { cwd: ROOT, env: { HOST: "127.0.0.1", LOG_LEVEL: "info", ...env } }), (group) => group.stop());
}

/** `count` sockets joined to a demo room on `port`. */
async function members(port: number, count: number): Promise<RawClient[]> {
  const joined: RawClient[] = [];
  for (let i = 0; i < count; i++) joined.push(await opened.joinedClient({ port }, "room:signals", { user: `m${i}` }));
  return joined;
}

/** Sockets closed by the drain batches the output logged, on every worker. */
function drained(output: string): number {
  return logLines(output, "drain batch").reduce((sum, batch) => sum + (batch.closed as number), 0);
}

describe("npm start", () => {
  // --ignore-scripts: prestart's up-to-date check is for people; here dist/ is what the tests run.
  const npmStart = (port: number) => run("npm", ["start", "--ignore-scripts"], { PORT: String(port), WORKERS: "1" });

  it("says in one line where it listens and what it serves", async () => {
    const port = await freePort();
    const start = npmStart(port);
    await start.waitForOutput(`Cinder listening on http://127.0.0.1:${port} — demo /, dashboard /dashboard, sockets /socket\n`);
  });

  it("passes SIGTERM on: the node drains its sockets, frees the port and exits 0", async () => {
    const port = await freePort();
    const start = npmStart(port);
    await start.waitForOutput("Cinder listening on");
    const sockets = await members(port, 2);

    start.kill("SIGTERM");
    expect(await start.ended()).toEqual({ code: 0, signal: null });
    expect(drained(start.output)).toBe(2);
    expect(logLines(start.output, "stopped")).toHaveLength(1);
    for (const socket of sockets) expect(await socket.closed()).toMatchObject({ code: CLOSE.goingAway });
    expect(await portRefusal("127.0.0.1", port)).toBeUndefined();
  });

  it("drains once on a terminal's Ctrl-C, which SIGINTs npm and the node (and npm passes it on again)", async () => {
    const port = await freePort();
    const start = npmStart(port);
    await start.waitForOutput("Cinder listening on");
    await members(port, 1);

    start.killGroup("SIGINT");
    expect(await start.ended()).toEqual({ code: 0, signal: null });
    expect(logLines(start.output, "draining")).toHaveLength(1);
    expect(drained(start.output)).toBe(1);
    expect(await portRefusal("127.0.0.1", port)).toBeUndefined();
  });
});

describe("a server started from code", () => {
  it.each(["createServer", "startNode"])("drains on SIGTERM with %s(…).drainOnSignals(), runs onDrained, then exits 0", async (how) => {
    const port = await freePort();
    const app = run(process.execPath, [DRAIN_APP], { PORT: String(port), CINDER_START: how });
    await app.waitForOutput("ready\n");
    const sockets = await members(port, 3);

    app.kill("SIGTERM");
    expect(await app.ended()).toEqual({ code: 0, signal: null });
    expect(drained(app.output)).toBe(3);
    expect(app.output).toContain("onDrained ran\n");
    for (const socket of sockets) expect(await socket.closed()).toMatchObject({ code: CLOSE.goingAway });
    expect(await portRefusal("127.0.0.1", port)).toBeUndefined();
  });
});
