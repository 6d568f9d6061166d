/**
 * Browser client size against phoenix.js: both ESM entries bundled and minified by esbuild with
 * the same options, gzipped at level 9; the msgpack serializer (a separate entry) as an extra row.
 *   npm run bench -- client-size [--ours dist/client/index.js]
 * Writes bench/results/client-size.{md,json}.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CINDER_ENTRY, MINIFY_OPTIONS, measureClientSizes, renderSizeTable } from "../client-size.js";
import { parseFlags } from "../lib/flags.js";
import { repoRoot } from "../lib/repo-root.js";

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const root = repoRoot();
  const cinderEntry = f.string("ours", CINDER_ENTRY);
  const sizes = await measureClientSizes({ cinderEntry, root });
  const esbuildVersion = (await import("esbuild")).version;
  const table = renderSizeTable(sizes);
  const options = Object.entries(MINIFY_OPTIONS)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(", ");
  const markdown = [
    "# Browser client size",
    "",
    `${new Date().toISOString().slice(0, 10)} · esbuild ${esbuildVersion} (${options}) · gzip level 9 (node:zlib). ` +
      "Each entry is bundled with its imports. The msgpack serializer is a separate entry a page loads only when it " +
      "picks msgpack; it is not part of cinder.min.js. Reproduce: `npm run bench -- client-size`.",
    "",
    table,
    "",
  ].join("\n");
  console.log(table);
  const dir = join(root, "bench", "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "client-size.md"), markdown);
  writeFileSync(
    join(dir, "client-size.json"),
    JSON.stringify({ date: new Date().toISOString(), esbuild: esbuildVersion, options: MINIFY_OPTIONS, gzipLevel: 9, ...sizes }, null, 2) + "\n",
  );
  console.log(`\nwrote bench/results/client-size.md and client-size.json`);
}
