import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

interface LockEntry {
  version: string;
  dev?: boolean;
  [field: string]: unknown;
}

/** `npm pack` of this repository's build into `dir`; returns the tarball's file name. */
export async function packCinder(dir: string): Promise<string> {
  // --ignore-scripts: dist/ is the build the tests run (a packing user's `npm pack` builds first).
  const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: ROOT, timeout: 60_000 });
  return (JSON.parse(stdout) as Array<{ filename: string }>)[0].filename;
}

/**
 * Makes `dir` an app that depends on the packed tarball (and on `devTools`, e.g. typescript),
 * and installs it with `npm ci --offline`: from the npm cache `npm ci` filled for this
 * repository, with no registry. npm finds a package in the cache by its integrity, which a
 * lockfile gives, so the app's lockfile is written here from this repository's: the tarball,
 * every package it needs at run time, and the dev tools asked for.
 */
export async function installScratchApp(dir: string, tarball: string, devTools: string[]): Promise<void> {
  const repoLock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
  const manifest = JSON.parse((await run("tar", ["-xOzf", join(dir, tarball), "package/package.json"], { encoding: "utf8" })).stdout) as LockEntry & {
    dependencies: Record<string, string>;
  };
  const wanted = new Set(devTools.map((name) => `node_modules/${name}`));
  // A dev tool's own dependencies come with it (e.g. @types/node's undici-types).
  for (const tool of [...wanted]) {
    for (const dependency of Object.keys((repoLock.packages[tool]?.dependencies as Record<string, string>) ?? {})) wanted.add(`node_modules/${dependency}`);
  }
  const app = {
    name: "scratch-app",
    private: true,
    type: "module",
    dependencies: { cinder: `file:${tarball}` },
    devDependencies: Object.fromEntries(devTools.map((name) => [name, repoLock.packages[`node_modules/${name}`].version])),
  };
  const packages: Record<string, unknown> = {
    "": { name: app.name, dependencies: app.dependencies, devDependencies: app.devDependencies },
    "node_modules/cinder": {
      version: manifest.version,
      resolved: `file:${tarball}`,
      license: manifest.license,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
      engines: manifest.engines,
    },
  };
  for (const [path, entry] of Object.entries(repoLock.packages)) {
    if (!path.startsWith("node_modules/")) continue;
    const top = path.split("/node_modules/")[0];
    if (!entry.dev || wanted.has(top)) packages[path] = entry;
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify(app, null, 2));
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify({ name: app.name, lockfileVersion: 3, requires: true, packages }, null, 2));
  await run("npm", ["ci", "--offline", "--no-audit", "--no-fund"], { cwd: dir, timeout: 180_000 });
}
