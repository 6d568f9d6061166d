import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Socket } from "phoenix";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { portRefusal } from "../server/endpoint/listen-error.js";
import { GroupProcess, logLines } from "./support/group-process.js";
import { freePort } from "./support/node-process.js";
import { collect, joined, phoenixWebSocket, pushed } from "./support/phoenix-channel.js";
import { docsBlock } from "./support/docs-pages.js";
import { installScratchApp, packCinder } from "./support/scratch-app.js";
import { waitFor } from "./support/wait.js";

const run = promisify(execFile);

/** A TypeScript client of the app, on the package's client entries. */
const CLIENT_TS = `import { Presence, Socket } from "cinder/client";
import { msgpackSerializer } from "cinder/client/msgpack";

const socket = new Socket("ws://127.0.0.1:4000/socket", { params: { token: "ada-token" }, serializer: msgpackSerializer });
socket.connect();
const channel = socket.channel("room:lobby", { name: "ada" });
const presence = new Presence(channel);
presence.onSync(() => console.log(presence.list((key, { metas }) => \`\${key} ×\${metas.length}\`)));
channel.on("shout", (payload) => console.log(payload));
channel.join().receive("ok", () => channel.push("shout", { body: "hello" }));
`;

const TSCONFIG = {
  compilerOptions: { strict: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", noEmit: true, types: ["node"] },
  files: ["server.ts", "start.ts", "client.ts"],
};

/**
 * What a new user does: `npm pack` Cinder, install the tarball into an app of their own, write
 * the README's app module, run it with `npx cinder`, talk to it with phoenix.js (the README's own
 * client among it), and compile
 * TypeScript against the types the package ships.
 */
describe("the packed package in an app", () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cinder-app-"));
    const tarball = await packCinder(dir);
    await installScratchApp(dir, tarball, ["typescript", "@types/node", "phoenix", "ws"]);
    writeFileSync(join(dir, "app.mjs"), docsBlock("// app.mjs"));
  }, 240_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves the README's app module with `npx cinder --app ./app.mjs`: phoenix.js joins and chats; SIGTERM to npx drains it", async () => {
    const port = await freePort();
    const cinder = new GroupProcess("npx", ["cinder", "--app", "./app.mjs"], { cwd: dir, env: { PORT: String(port), HOST: "127.0.0.1", WORKERS: "2", LOG_LEVEL: "info" } });
    const sockets: Socket[] = [];
    try {
      await cinder.waitForOutput(`Cinder listening on http://127.0.0.1:${port} — sockets /socket\n`);
      const [ada, bob] = [phoenixWebSocket(port), phoenixWebSocket(port)];
      sockets.push(ada, bob);
      const closes: number[] = [];
      for (const socket of sockets) socket.onClose((event: { code: number }) => void closes.push(event.code));

      await expect(joined(ada.channel("room:lobby", {}))).rejects.toEqual({ reason: 'join with a name: {name: "ada"}' });
      const adaRoom = ada.channel("room:lobby", { name: "ada" });
      const bobRoom = bob.channel("room:lobby", { name: "bob" });
      expect(await joined(adaRoom)).toEqual({ welcome: "room:lobby" });
      await joined(bobRoom);
      const heard = collect(bobRoom, "shout");
      expect(await pushed(adaRoom, "shout", { body: "hello" })).toEqual({ status: "ok", response: {} });
      await waitFor(() => heard.length === 1, "bob to hear ada");
      expect(heard).toEqual([{ from: "ada", body: "hello" }]);

      // npx runs `sh -c cinder …`, and that shell does not pass SIGTERM on: the node must notice.
      cinder.kill("SIGTERM");
      await cinder.ended();
      expect(logLines(cinder.output, "drain batch").reduce((sum, batch) => sum + (batch.closed as number), 0)).toBe(2);
      expect(logLines(cinder.output, "stopped")).toHaveLength(2);
      // Each was closed once with 1001 (its reconnect attempts since then find the port closed).
      expect(closes.filter((code) => code === 1001)).toHaveLength(2);
      expect(await portRefusal("127.0.0.1", port)).toBeUndefined();
    } finally {
      for (const socket of sockets) socket.disconnect();
      cinder.stop();
    }
  }, 60_000);

  it("runs the README's first channel as written: `node client.mjs` joins, shouts and hears it, and a second one is heard by the first", async () => {
    const port = await freePort();
    // The README's client, pointed at this test's port instead of 4000.
    writeFileSync(join(dir, "client.mjs"), docsBlock("// client.mjs").replace("127.0.0.1:4000", `127.0.0.1:${port}`));
    const cinder = new GroupProcess("npx", ["cinder", "--app", "./app.mjs"], { cwd: dir, env: { PORT: String(port), HOST: "127.0.0.1", WORKERS: "1" } });
    const clients: GroupProcess[] = [];
    try {
      await cinder.waitForOutput(`Cinder listening on http://127.0.0.1:${port} — sockets /socket\n`);
      const first = new GroupProcess("node", ["client.mjs"], { cwd: dir, env: {} });
      clients.push(first);
      await first.waitForOutput("joined { welcome: 'room:lobby' }\nada: hello\n");
      const second = new GroupProcess("node", ["client.mjs"], { cwd: dir, env: {} });
      clients.push(second);
      await second.waitForOutput("joined { welcome: 'room:lobby' }\nada: hello\n");
      await first.waitForOutput("ada: hello\nada: hello\n");
      expect(first.output).toBe("joined { welcome: 'room:lobby' }\nada: hello\nada: hello\n");
      // Over WebSockets, on every Node: without a transport, Node 20 has no global WebSocket and
      // phoenix.js would chat over LongPoll instead, as quietly.
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^cinder_sockets 2$/m);
      expect(metrics).toMatch(/^cinder_longpoll_sessions 0$/m);
    } finally {
      for (const client of clients) client.stop();
      cinder.stop();
    }
  }, 60_000);

  it("compiles a TypeScript app on cinder/server and cinder/client, the README's examples among it, under tsc --strict", async () => {
    writeFileSync(join(dir, "server.ts"), docsBlock("// server.ts"));
    writeFileSync(join(dir, "start.ts"), docsBlock("// start.ts"));
    writeFileSync(join(dir, "client.ts"), CLIENT_TS);
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG));
    const compiled = await run("npx", ["tsc", "-p", "tsconfig.json"], { cwd: dir, timeout: 120_000 }).then(
      () => "",
      (err: { stdout?: string; message: string }) => err.stdout || err.message,
    );
    expect(compiled).toBe("");
  }, 150_000);
});
