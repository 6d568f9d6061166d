/**
 * Every TypeScript and JavaScript example in README.md and docs/*.md (and the script of every
 * HTML one) compiles under `tsc --strict` against the package's built types (dist/*.d.ts, as an
 * app that installed Cinder sees them), with the official `phoenix` client and `ws` beside it.
 * JavaScript is checked as JavaScript (`checkJs`), as strictly as plain JavaScript can be (see
 * PROJECTS). A fragment may use the few names
 * docs-prelude.d.ts declares (`server`, `socket`, …), as the prose around it does. A block is
 * left out only under an `<!-- not checked: why -->` line; shell, Elixir and other languages
 * are not compiled. The README's first channel also runs as written (test/package-app.test.ts).
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, docsPages, type CodeBlock } from "../support/docs-pages.js";

const run = promisify(execFile);

/** Languages compiled, by the file extension they are checked as. */
const COMPILED: Record<string, "ts" | "js"> = { ts: "ts", js: "js", html: "js" };
/**
 * Languages shown, not compiled: shell transcripts and commands, program output, other ecosystems'
 * code, and the source's floor order (checked by test/architecture/floors.test.ts).
 */
const SHOWN = new Set(["sh", "text", "elixir", "floors", "json", "python", "go"]);

const STRICT = {
  strict: true,
  module: "NodeNext",
  moduleResolution: "NodeNext",
  target: "ES2022",
  lib: ["ES2022", "DOM", "DOM.Iterable"],
  types: ["node"],
  noEmit: true,
  skipLibCheck: true,
};

/**
 * TypeScript strict; JavaScript strict too, but for what plain JavaScript cannot say: a parameter
 * without a JSDoc type is `any`, and a page's lookup of its own element is not null.
 */
const PROJECTS = {
  "tsconfig.ts.json": { compilerOptions: STRICT, include: ["*.ts"] },
  "tsconfig.js.json": { compilerOptions: { ...STRICT, allowJs: true, checkJs: true, noImplicitAny: false, strictNullChecks: false }, include: ["*.js", "*.d.ts"] },
};

/**
 * What a block compiles as: its own text, or the module scripts of an HTML page (the rest of the
 * page blanked, so that a line keeps its number).
 */
function source(block: CodeBlock): string {
  if (block.lang !== "html") return block.text;
  let inScript = false;
  const lines = block.text.split("\n").map((line) => {
    if (line.trim() === "</script>") inScript = false;
    const kept = inScript ? line : "";
    if (line.trim() === '<script type="module">') inScript = true;
    return kept;
  });
  if (!block.text.includes('<script type="module">')) throw new Error(`${block.page}:${block.line}: an HTML example without a module script`);
  // The page loads the client from where Cinder serves it; an app compiles against the package entry.
  return lines.join("\n").replaceAll('"/assets/cinder.min.js"', '"cinder/client"');
}

/** A file name for a block, from its page and line: docs/channels.md:12 → docs_channels_md_12. */
const fileOf = (block: CodeBlock) => `${block.page.replace(/[^a-z0-9]/gi, "_")}_${block.line}.${COMPILED[block.lang]}`;

/**
 * A scratch app whose node_modules holds this repository's packages and `cinder` itself (the
 * repository, so its `exports` lead to dist/), and every compiled block as a file of its own.
 */
function scratchApp(blocks: CodeBlock[]): { dir: string; pageLine: Map<string, CodeBlock> } {
  const dir = mkdtempSync(join(tmpdir(), "cinder-docs-"));
  mkdirSync(join(dir, "node_modules"));
  for (const name of readdirSync(join(ROOT, "node_modules"))) {
    if (!name.startsWith(".")) symlinkSync(join(ROOT, "node_modules", name), join(dir, "node_modules", name));
  }
  symlinkSync(ROOT, join(dir, "node_modules", "cinder"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "docs-examples", private: true, type: "module" }));
  for (const [file, project] of Object.entries(PROJECTS)) writeFileSync(join(dir, file), JSON.stringify(project));
  copyFileSync(new URL("./docs-prelude.d.ts", import.meta.url), join(dir, "docs-prelude.d.ts"));
  const pageLine = new Map<string, CodeBlock>();
  for (const block of blocks) {
    // `export {}` makes every block a module of its own, so blocks never see each other's names.
    writeFileSync(join(dir, fileOf(block)), `${source(block)}\nexport {};\n`);
    pageLine.set(fileOf(block), block);
  }
  return { dir, pageLine };
}

const blocks = docsPages().flatMap((page) => page.blocks);
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("code examples in README.md and docs/", () => {
  it("are each in a language the docs check or show; a block left out says why", () => {
    const unknown = blocks.filter((block) => !(block.lang in COMPILED) && !SHOWN.has(block.lang));
    expect(unknown.map((block) => `${block.page}:${block.line} \`\`\`${block.lang}`)).toEqual([]);
    const left = blocks.filter((block) => block.notChecked !== undefined);
    expect(left.filter((block) => block.notChecked === "").map((block) => `${block.page}:${block.line}`)).toEqual([]);
    expect(left.length, "blocks left out").toBeLessThanOrEqual(3);
  });

  it("compile under tsc --strict against the built package, JavaScript as JavaScript", async () => {
    const compiled = blocks.filter((block) => block.lang in COMPILED && block.notChecked === undefined);
    expect(compiled.length).toBeGreaterThan(20);
    const { dir, pageLine } = scratchApp(compiled);
    dirs.push(dir);
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const outputs = await Promise.all(
      Object.keys(PROJECTS).map((project) =>
        run(process.execPath, [tsc, "-p", project], { cwd: dir, timeout: 120_000 }).then(
          () => "",
          (err: { stdout?: string; message: string }) => err.stdout || err.message,
        ),
      ),
    );
    const output = outputs.join("\n");
    // tsc names a block's file and line; say the page and line instead.
    const errors = output
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) =>
        line.replace(/^(\S+?)\((\d+),(\d+)\)/, (whole, file: string, at: string) => {
          const block = pageLine.get(file);
          return block ? `${block.page}:${block.line + Number(at)}` : whole;
        }),
      );
    expect(errors).toEqual([]);
  }, 150_000);
});
