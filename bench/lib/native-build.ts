import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";

import { glibcVersion } from "../../server/native-uws.js";
import { repoRoot } from "./repo-root.js";

/**
 * Where the load clients are compiled to: one folder per C library, as a client built where glibc
 * is newer (the Node 24 root, docs/runtimes.md) does not run where it is older, and both share
 * this repository.
 */
export function nativeBuildDir(): string {
  return join(repoRoot(), "bench", ".build", `glibc-${glibcVersion() ?? "none"}`);
}

/** Compiles `sources` (.c files compiled, .h files watched) into `name` when it is missing or older than one of them. */
export function compileNative(name: string, sources: readonly string[], what: string): string {
  const dir = nativeBuildDir();
  const out = join(dir, name);
  const newest = Math.max(...sources.map((file) => statSync(file).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs >= newest) return out;
  mkdirSync(dir, { recursive: true });
  const cFiles = sources.filter((file) => file.endsWith(".c"));
  const result = spawnSync("cc", ["-O2", "-Wall", "-o", out, ...cFiles], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`building the ${what} failed:\n${result.stderr}`);
  return out;
}
