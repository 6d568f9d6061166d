#!/usr/bin/env node
// Runs `npm run build` unless dist/ is already built from the sources as they are: `npm start`
// then starts in about a second instead of recompiling everything. The build leaves
// dist/.build-stamp, dated when it began (a file saved during a build is newer, so it counts);
// a source, the two pages, tsconfig.json, package.json or package-lock.json not older than the
// stamp means dist/ is stale. A deleted source is not noticed (its old output stays, unused).
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const STAMP = join(root, "dist", ".build-stamp");
const SOURCE_DIRS = ["server", "client", "crdt", "bench"];
const SOURCE_FILE = /\.(ts|html)$/;
const SETTINGS_FILES = ["tsconfig.json", "package.json", "package-lock.json"];

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The first input saved at or after `since`, or undefined. */
function newerInput(since) {
  for (const file of SETTINGS_FILES) if ((mtime(join(root, file)) ?? 0) >= since) return file;
  for (const dir of SOURCE_DIRS) {
    for (const entry of readdirSync(join(root, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !SOURCE_FILE.test(entry.name)) continue;
      const path = join(entry.parentPath ?? entry.path, entry.name);
      if (statSync(path).mtimeMs >= since) return path.slice(root.length);
    }
  }
  return undefined;
}

const built = mtime(STAMP);
const changed = built === undefined ? undefined : newerInput(built);
const reason = built === undefined ? "dist/ has not been built" : changed && `${changed} changed since the last build`;
if (reason) {
  process.stderr.write(`${reason}: building (npm run build)\n`);
  const { status } = spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
  process.exit(status ?? 1);
}
