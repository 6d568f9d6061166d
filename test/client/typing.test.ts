import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

describe("cinder/client typings", () => {
  it("compile code written against phoenix.js's API, and reject wrong types", () => {
    const args = [
      tsc,
      "--noEmit",
      "--strict",
      "--target", "es2022",
      "--module", "nodenext",
      "--moduleResolution", "nodenext",
      "--lib", "es2022,dom",
      "--types", "node",
      "--skipLibCheck",
      "test/client/typing/phoenix-style.ts",
    ];
    let output = "";
    try {
      execFileSync(process.execPath, args, { cwd: root, encoding: "utf8" });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    expect(output).toBe("");
  }, 60_000);
});
