/**
 * The command that starts the behind scenario's clients: the native one
 * (bench/native/behind/behind.c, compiled on first use) or the Node one (bench/lib/behind-client.ts),
 * both with the same flags, lines and report; pinned to `core` with taskset when given.
 */
import { join } from "node:path";

import { compileNative } from "./native-build.js";
import { repoRoot } from "./repo-root.js";

export type BehindClientKind = "native" | "node";

function nativeBinary(): string {
  const native = join(repoRoot(), "bench", "native");
  const sources = ["behind/behind.c", "wsframe.c", "wsframe.h", "byte-buffer.c", "byte-buffer.h"].map((file) => join(native, file));
  return compileNative("behind", sources, "behind client");
}

export function behindClientArgv(kind: BehindClientKind, flags: readonly string[], core?: number): string[] {
  const command = kind === "native" ? [nativeBinary()] : [process.execPath, join(repoRoot(), "dist", "bench", "lib", "behind-client.js")];
  return core === undefined ? [...command, ...flags] : ["taskset", "-c", String(core), ...command, ...flags];
}
