/**
 * The browser bundle `npm run build` makes (dist/client/cinder.min.js) leaves the msgpack
 * serializer out, and our client, minified and gzipped like phoenix.js, is no bigger than it.
 * Sizes only, no timing. Needs the build (`npm test` runs it first).
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { measureClientSizes, minify } from "../../bench/client-size.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bundlePath = fileURLToPath(new URL("../../dist/client/cinder.min.js", import.meta.url));

/** Strings that survive minification in any bundle that includes @msgpack/msgpack. */
const MSGPACK_MARKERS = ["@msgpack", "Unrecognized type byte", "extensionCodec", "Too large extension object"];

describe("the browser client bundle", () => {
  it("is built as one ESM file without the msgpack serializer", () => {
    expect(existsSync(bundlePath), `${bundlePath} missing: run npm run build`).toBe(true);
    const bundle = readFileSync(bundlePath, "utf8");
    expect(bundle).toMatch(/export\s*\{[^}]*\bSocket\b/);
    expect(bundle).toMatch(/export\s*\{[^}]*\bPresence\b/);
    for (const marker of MSGPACK_MARKERS) expect(bundle, `bundle contains ${marker}`).not.toContain(marker);
  });

  it("the markers do find msgpack when it is bundled", async () => {
    const withMsgpack = await minify("dist/client/msgpack.js", root);
    for (const marker of MSGPACK_MARKERS.slice(1)) expect(withMsgpack).toContain(marker);
  });

  it("is no bigger than phoenix.js when both are minified and gzipped the same way", async () => {
    const { phoenix, cinder } = await measureClientSizes({ root });
    expect(cinder.gzipBytes).toBeLessThanOrEqual(phoenix.gzipBytes);
  });
});
