import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { importCircles, importGraph } from "./import-circles.js";

let dir: string | undefined;

/** A scratch source folder holding `files` (path → contents). */
function folder(files: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), "cinder-imports-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("importCircles", () => {
  it("finds a circle made of type-only imports", () => {
    const root = folder({
      "a.ts": `import type { B } from "./b.js";\nexport interface A { b: B }`,
      "b.ts": `import { type A } from "./a.js";\nexport interface B { a: A }`,
    });
    expect(importCircles(root)).toEqual([{ files: ["a.ts", "b.ts"], imports: ["a.ts → b.ts", "b.ts → a.ts"] }]);
  });

  it("follows re-exports, folder indexes, import() types and calls, and require", () => {
    const root = folder({
      "top.ts": `export * from "./lib";`,
      "lib/index.ts": `export { helper } from "./helper.js";`,
      "lib/helper.ts": `export type Top = typeof import("../top.js");\nexport const helper = 1;`,
      "lazy.ts": `export const load = () => import("./eager.js");`,
      "eager.ts": `import lazy = require("./lazy.js");\nexport default lazy;`,
    });
    expect(importCircles(root)).toEqual([
      { files: ["eager.ts", "lazy.ts"], imports: ["eager.ts → lazy.ts", "lazy.ts → eager.ts"] },
      {
        files: ["lib/helper.ts", "lib/index.ts", "top.ts"],
        imports: ["lib/helper.ts → top.ts", "lib/index.ts → lib/helper.ts", "top.ts → lib/index.ts"],
      },
    ]);
  });

  it("finds a file that imports itself", () => {
    const root = folder({ "self.ts": `import { x } from "./self.js";\nexport const x = 1;\nexport const y = x;` });
    expect(importCircles(root)).toEqual([{ files: ["self.ts"], imports: ["self.ts → self.ts"] }]);
  });

  it("finds none where imports go one way, whatever comments, strings and packages say", () => {
    const root = folder({
      "low.ts": `// import { high } from "./high.js";\nexport const text = 'import "./high.js"';`,
      "mid.ts": `import { text } from "./low.js";\nimport { readFileSync } from "node:fs";\nexport const mid = [text, readFileSync];`,
      "high.ts": `import { mid } from "./mid.js";\nimport type { text } from "./low.js";\nexport const high = mid;`,
      "types.d.ts": `import "./high.js";`,
    });
    expect(importCircles(root)).toEqual([]);
    expect(importGraph(root)).toEqual(
      new Map([
        ["high.ts", new Set(["mid.ts", "low.ts"])],
        ["low.ts", new Set()],
        ["mid.ts", new Set(["low.ts"])],
      ]),
    );
  });
});
