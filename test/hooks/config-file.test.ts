/**
 * `npx cinder --config FILE`: any setting of the table from a JSON file, flags and env vars over
 * it, and errors that name the file, the key and what is wrong.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { settingsFromCli } from "../../server/cli-options.js";
import { NodeProcess } from "../support/node-process.js";
import { perTest } from "../support/opened.js";

const opened = perTest();
const dir = mkdtempSync(join(tmpdir(), "cinder-config-"));
let files = 0;

function configFile(content: unknown): string {
  const path = join(dir, `cinder-${++files}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

const problem = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    settingsFromCli(argv, env);
  } catch (err) {
    return (err as Error).message;
  }
  return "no problem";
};

describe("the config file", () => {
  it("carries any setting, objects included; env vars override it and flags override both", () => {
    const file = configFile({ port: 4100, auth: { phoenixToken: { salt: "user socket" } }, hooks: { connect: "http://127.0.0.1:5000/connect" }, logLevel: "warn" });
    expect(settingsFromCli(["--config", file], {}).settings).toMatchObject({ port: 4100, auth: { phoenixToken: { salt: "user socket" } }, hooks: { connect: "http://127.0.0.1:5000/connect" }, logLevel: "warn" });
    expect(settingsFromCli([], { CONFIG: file, PORT: "4200" }).settings.port).toBe(4200);
    expect(settingsFromCli(["--config", file, "--port", "4300"], { PORT: "4200" }).settings.port).toBe(4300);
  });

  it("names the file, the key and the problem", () => {
    expect(problem(["--config", join(dir, "missing.json")])).toBe(`${join(dir, "missing.json")}: cannot read the config file (ENOENT)`);
    const broken = configFile("{ port: 1 }");
    expect(problem(["--config", broken])).toMatch(new RegExp(`^${broken}: not valid JSON`));
    const list = configFile([1]);
    expect(problem(["--config", list])).toBe(`${list}: must be a JSON object of settings, e.g. {"port": 4000}`);
    const unknown = configFile({ prot: 4000 });
    expect(problem(["--config", unknown])).toBe(`${unknown}: unknown setting "prot" (the settings are listed by npx cinder --help)`);
    const renamed = configFile({ idleTimeout: 60 });
    expect(problem(["--config", renamed])).toBe(`${renamed}: unknown setting "idleTimeout"; it is now "idleTimeoutMs"`);
    const wrongType = configFile({ port: "4000" });
    expect(problem(["--config", wrongType])).toBe(`${wrongType}: "port" must be an integer from 0 to 65535, got "4000"`);
    const notObject = configFile({ hooks: "http://x" });
    expect(problem(["--config", notObject])).toMatch(new RegExp(`^${notObject}: "hooks" must be an object`));
    const badHook = configFile({ hooks: { channels: { "room:*": { join: "ftp://x" } } } });
    expect(problem(["--config", badHook])).toBe(`${badHook}: hooks.channels.room:*.join.url must be an http(s) URL, got "ftp://x"`);
    const badKey = configFile({ hooks: { channels: { "room:*": { leave: "http://x" } } } });
    expect(problem(["--config", badKey])).toBe(`${badKey}: hooks.channels.room:* has unknown key "leave" (known: join, publish, rpc)`);
  });

  it("stops the CLI with the message on stderr", async () => {
    const file = configFile({ maxChannelsPerSocket: -1 });
    const run = await NodeProcess.run({ PORT: "0" }, ["--config", file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cinder: ${file}: "maxChannelsPerSocket" must be an integer`);
  });

  it("starts a node with the file's settings", async () => {
    const file = configFile({ nodeName: "from-the-file", hooks: { channels: {} } });
    const node = await opened.node({ env: { CONFIG: file } });
    const health = (await (await fetch(`http://127.0.0.1:${node.port}/health`)).json()) as { node: string };
    expect(health.node).toBe("from-the-file");
    // With hooks and no --app, no demo page in front of the backend's channels.
    expect((await fetch(`http://127.0.0.1:${node.port}/`)).status).toBe(404);
  });
});
