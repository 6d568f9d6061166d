/**
 * Which uWS build loads: the maintained one (20.57) wherever its binary loads, the older one
 * (20.30) only where it alone does (Node 20 on glibc < 2.38), and one line naming what was found
 * and what each build needs when none does. `npm test` runs this on both: this machine's Node and
 * Node 24 in the Debian 13 root.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { glibcVersion, loadFirst, NativeUwsError, UWS_BUILDS, uwsCapabilities, type UwsBuild } from "../../server/native-uws.js";

const ABI = process.versions.modules;
const GLIBC = glibcVersion() ?? "none";
const scratch = mkdtempSync(join(tmpdir(), "cinder-uws-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A build whose folder holds `files` (a binary that is no binary fails to load, as a wrong glibc does). */
function fakeBuild(version: string, files: string[]): UwsBuild {
  const dir = join(scratch, version);
  mkdirSync(dir, { recursive: true });
  for (const file of files) writeFileSync(join(dir, file), "not an ELF file");
  return { version, npmPackage: `fake-${version}`, glibc: "2.99", releasesSendBuffer: false, upgradesLaterSafely: false, binaries: () => dir };
}

function atLeast(version: string, minimum: string): boolean {
  const [a = 0, b = 0] = version.split(".").map(Number);
  const [c = 0, d = 0] = minimum.split(".").map(Number);
  return a > c || (a === c && b >= d);
}

describe("the uWS build", () => {
  it("is 20.57 wherever its binary loads, 20.30 only on Node 20 with glibc < 2.38", () => {
    const maintainedLoads = ["115", "127", "137", "141"].includes(ABI) && atLeast(GLIBC, "2.38");
    const capabilities = uwsCapabilities();
    expect(capabilities.version).toBe(maintainedLoads ? "20.57.0" : "20.30.0");
    // The released send buffer comes with the build, and only with 20.57.
    expect(capabilities.releasesSendBuffer).toBe(maintainedLoads);
  });

  it("passes over a build whose binary does not load, to the next that does", () => {
    const broken = fakeBuild("9.1.0", [`uws_${process.platform}_${process.arch}_${ABI}.node`]);
    const { capabilities } = loadFirst([broken, ...UWS_BUILDS]);
    expect(capabilities.version).toBe(uwsCapabilities().version);
  });

  it("says in one line what it found and what each build needs when none loads", () => {
    const broken = fakeBuild("9.1.0", [`uws_${process.platform}_${process.arch}_${ABI}.node`]);
    const otherAbi = fakeBuild("9.0.0", [`uws_${process.platform}_${process.arch}_108.node`, `uws_${process.platform}_${process.arch}_93.node`]);
    const missing: UwsBuild = { ...otherAbi, version: "8.0.0", binaries: () => undefined };
    let error: unknown;
    try {
      loadFirst([broken, otherAbi, missing]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(NativeUwsError);
    const message = (error as Error).message;
    expect(message).not.toContain("\n");
    expect(message).toContain(`found Node ${process.version} (ABI ${ABI}) on ${process.platform}-${process.arch} with glibc ${GLIBC}`);
    expect(message).toContain(`uWS 9.1.0 needs Node ${process.versions.node.split(".")[0]}`);
    expect(message).toContain("with glibc ≥ 2.99, and its binary did not load (");
    expect(message).toContain(`uWS 9.0.0 needs Node 16, 18 (ABI 93, 108) on ${process.platform}-${process.arch} with glibc ≥ 2.99;`);
    expect(message).toContain("uWS 8.0.0 is not installed (npm ci installs it)");
  });
});
