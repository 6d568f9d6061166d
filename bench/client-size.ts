/**
 * Browser client size: phoenix.js's ESM entry and ours, each bundled and minified by esbuild with
 * the same options, then gzipped at level 9. Shared by `npm run bench -- client-size` and
 * test/client/bundle-size.test.ts.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build, type BuildOptions } from "esbuild";
import { repoRoot } from "./lib/repo-root.js";

/** The options every entry is measured with; the `build` script makes cinder.min.js with the same flags. */
export const MINIFY_OPTIONS = {
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
} as const satisfies BuildOptions;

export interface EntrySize {
  label: string;
  /** Entry file, relative to the repository root. */
  entry: string;
  minifiedBytes: number;
  gzipBytes: number;
}

export interface ClientSizes {
  phoenix: EntrySize;
  cinder: EntrySize;
  /** The msgpack serializer entry with @msgpack/msgpack bundled in; null until it is built. */
  msgpack: EntrySize | null;
}

export const PHOENIX_ENTRY = "node_modules/phoenix/assets/js/phoenix/index.js";
export const CINDER_ENTRY = "dist/client/index.js";
export const MSGPACK_ENTRY = "dist/client/msgpack.js";

/** Bundles and minifies `entry` in memory; returns the code. */
export async function minify(entry: string, root = repoRoot()): Promise<string> {
  const result = await build({
    ...MINIFY_OPTIONS,
    entryPoints: [join(root, entry)],
    absWorkingDir: root,
    write: false,
    logLevel: "silent",
  });
  const [file] = result.outputFiles;
  if (!file) throw new Error(`esbuild produced no output for ${entry}`);
  return file.text;
}

export function gzipBytes(code: string): number {
  return gzipSync(Buffer.from(code, "utf8"), { level: 9 }).length;
}

export async function measureEntry(label: string, entry: string, root = repoRoot()): Promise<EntrySize> {
  const code = await minify(entry, root);
  return { label, entry, minifiedBytes: Buffer.byteLength(code, "utf8"), gzipBytes: gzipBytes(code) };
}

/**
 * Measures phoenix.js against our client. `cinderEntry` can point elsewhere (e.g. phoenix's own
 * entry, standing in while the SDK is being written). The msgpack row is measured when built.
 */
export async function measureClientSizes(
  { cinderEntry = CINDER_ENTRY, root = repoRoot() }: { cinderEntry?: string; root?: string } = {},
): Promise<ClientSizes> {
  if (!existsSync(join(root, cinderEntry))) throw new Error(`${cinderEntry} is missing: run npm run build first`);
  const [phoenix, cinder, msgpack] = await Promise.all([
    measureEntry(`phoenix.js ${phoenixVersion(root)}`.trim(), PHOENIX_ENTRY, root),
    measureEntry(cinderEntry === CINDER_ENTRY ? "cinder" : "stand-in for cinder", cinderEntry, root),
    existsSync(join(root, MSGPACK_ENTRY))
      ? measureEntry("cinder msgpack serializer (extra, separate entry incl. @msgpack/msgpack)", MSGPACK_ENTRY, root)
      : Promise.resolve(null),
  ]);
  return { phoenix, cinder, msgpack };
}

function phoenixVersion(root: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(root, "node_modules/phoenix/package.json"), "utf8")) as { version: string };
    return pkg.version;
  } catch {
    return "";
  }
}

/** The markdown table: bytes, and each entry's size relative to phoenix.js. */
export function renderSizeTable(sizes: ClientSizes): string {
  const ratio = (a: number, b: number) => `${((a / b) * 100).toFixed(1)} %`;
  const row = (s: EntrySize, relative: boolean) =>
    `| ${s.label} | \`${s.entry}\` | ${s.minifiedBytes.toLocaleString("en")} | ${s.gzipBytes.toLocaleString("en")} | ` +
    (relative
      ? `${ratio(s.minifiedBytes, sizes.phoenix.minifiedBytes)} | ${ratio(s.gzipBytes, sizes.phoenix.gzipBytes)} |`
      : "— | — |");
  const lines = [
    "| client | entry | minified bytes | gzip -9 bytes | minified vs phoenix | gzip vs phoenix |",
    "|---|---|---:|---:|---:|---:|",
    row(sizes.phoenix, true),
    row(sizes.cinder, true),
  ];
  lines.push(sizes.msgpack ? row(sizes.msgpack, false) : `| cinder msgpack serializer (extra) | \`${MSGPACK_ENTRY}\` | not built | | | |`);
  return lines.join("\n");
}
