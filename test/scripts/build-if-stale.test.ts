import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const SCRIPT = fileURLToPath(new URL("../../scripts/build-if-stale.mjs", import.meta.url));
const run = promisify(execFile);

/**
 * A project shaped like this one (the sources, tsconfig.json, package.json, package-lock.json)
 * whose build only counts itself and leaves the stamp as the real build does, with the script.
 */
function fakeProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "cinder-build-"));
  for (const sub of ["scripts", "server/demo", "client", "crdt", "bench"]) mkdirSync(join(dir, sub), { recursive: true });
  copyFileSync(SCRIPT, join(dir, "scripts", "build-if-stale.mjs"));
  const build = `mkdir -p dist && touch dist/.build-began && echo built >> builds.txt && (test -z "$SAVE_DURING_BUILD" || touch "$SAVE_DURING_BUILD") && mv dist/.build-began dist/.build-stamp`;
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "fake", private: true, scripts: { build } }));
  for (const file of ["package-lock.json", "tsconfig.json", "server/node.ts", "server/demo/index.html", "client/index.ts", "crdt/index.ts", "bench/run.ts"]) {
    writeFileSync(join(dir, file), "{}");
    ago(join(dir, file), 60);
  }
  return dir;
}

/** Dates `path` `seconds` in the past. */
function ago(path: string, seconds: number): void {
  const at = new Date(Date.now() - seconds * 1000);
  utimesSync(path, at, at);
}

describe("scripts/build-if-stale.mjs (npm start's prestart)", () => {
  let dir: string;
  const builds = () => readFileSync(join(dir, "builds.txt"), "utf8").split("\n").filter(Boolean).length;
  const check = (env: Record<string, string> = {}) => run(process.execPath, [join(dir, "scripts", "build-if-stale.mjs")], { cwd: dir, env: { ...process.env, ...env }, timeout: 30_000 });
  beforeEach(() => {
    dir = fakeProject();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("builds a project never built, then not again while nothing changed", async () => {
    await check();
    expect(builds()).toBe(1);
    await check();
    expect(builds()).toBe(1);
  });

  it.each(["server/node.ts", "server/demo/index.html", "bench/run.ts", "tsconfig.json", "package-lock.json"])("builds again once %s changed", async (file) => {
    await check();
    // The build was 30 s ago, the file saved 10 s ago.
    ago(join(dir, "dist", ".build-stamp"), 30);
    ago(join(dir, file), 10);
    await check();
    expect(builds()).toBe(2);
    await check();
    expect(builds()).toBe(2);
  });

  it("builds again when a source was saved while the last build ran", async () => {
    await check({ SAVE_DURING_BUILD: "client/index.ts" });
    await check();
    expect(builds()).toBe(2);
  });
});
