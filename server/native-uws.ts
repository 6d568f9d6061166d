import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { TemplatedApp, Uws, us_listen_socket } from "./uws-types.js";

export type { Uws } from "./uws-types.js";

const require = createRequire(import.meta.url);

/** A uWebSockets.js build Cinder can run on, as package.json pins it. */
export interface UwsBuild {
  /** uWS's version. */
  readonly version: string;
  /** The npm package that republishes it (package.json installs it under an alias). */
  readonly npmPackage: string;
  /** The folder of its binaries, undefined when it is not installed. */
  binaries(): string | undefined;
  /** The newest glibc symbol version its Linux binaries need. */
  readonly glibc: string;
  /**
   * Whether it gives a socket's send buffer back once the buffer is written out (uWS's
   * `shrink_to_fit`, since v20.50). Without it, a message that overflowed the 16 KiB cork buffer
   * leaves a buffer of its size with the socket for as long as the socket lives.
   */
  readonly releasesSendBuffer: boolean;
  /**
   * Whether an upgrade answered after its handler returned (`res.cork(() => res.upgrade(…))`, as
   * uWS documents it) is safe. In both builds it is not: `HttpResponse::cork` tells an upgrade
   * made inside it by the socket's address changing, but the upgrade reallocates the socket in
   * place (its WebSocket data is smaller than its HTTP data), so `cork` then runs its HTTP
   * connection-close check on the new WebSocket, reading as HTTP state memory the upgrade freed:
   * whenever something was allocated there in the meantime (the open handler, a GC), the socket is
   * closed right after its 101, with no close frame. uWebSockets fixed it in July 2026 (fe7c01a,
   * "Fix cork() closing a WebSocket that was upgraded asynchronously"), after both builds.
   * test/server/late-upgrade.test.ts checks this flag against the build that loads.
   */
  readonly upgradesLaterSafely: boolean;
}

/** In order of preference: the maintained build wherever it loads, the older one where it alone does. */
export const UWS_BUILDS: readonly UwsBuild[] = [
  { version: "20.57.0", npmPackage: "@btc-vision/uwebsockets.js", binaries: installed("uws-v20.57", "."), glibc: "2.38", releasesSendBuffer: true, upgradesLaterSafely: false },
  { version: "20.30.0", npmPackage: "@trufflesuite/uws-js-unofficial", binaries: installed("uws-v20.30", "../binaries"), glibc: "2.27", releasesSendBuffer: false, upgradesLaterSafely: false },
];

/** The folder `relative` to the main file of the package installed as `alias`. */
function installed(alias: string, relative: string): () => string | undefined {
  return () => {
    try {
      return join(dirname(require.resolve(alias)), relative);
    } catch {
      return undefined;
    }
  };
}

/**
 * The longest request head (request line and headers) uWS accepts, bytes, as Node's own HTTP
 * server (`http.maxHeaderSize`). uWS 20.57 refuses a longer head with 431 (and reads the limit,
 * 4 KiB by default, from UWS_HTTP_MAX_HEADERS_SIZE when its binary loads); 20.30 refused one only
 * when it came in several reads, so a browser with many cookies, or a long LongPoll query, would
 * work on one build and not on the other. A UWS_HTTP_MAX_HEADERS_SIZE set by the user wins.
 */
const MAX_REQUEST_HEAD_BYTES = 16 * 1024;

/** Node's module ABI (process.versions.modules) → its major version, for messages. */
const NODE_OF_ABI: Readonly<Record<string, string>> = { "93": "16", "108": "18", "115": "20", "120": "21", "127": "22", "131": "23", "137": "24", "141": "25" };

/** Which uWS build runs in this process, and what it can do. */
export interface UwsCapabilities {
  readonly version: string;
  readonly npmPackage: string;
  /** The socket's send buffer is released after a big message (see UwsBuild.releasesSendBuffer). */
  readonly releasesSendBuffer: boolean;
  /** An upgrade may be answered after its handler returned (see UwsBuild.upgradesLaterSafely). */
  readonly upgradesLaterSafely: boolean;
}

let loaded: { uws: Uws; capabilities: UwsCapabilities } | undefined;

/**
 * Loads uWebSockets.js: the first build of UWS_BUILDS whose native binary loads on this Node, OS,
 * CPU and C library. The binary is loaded by its path, never through the package's own loader,
 * which would quietly fall back to a pure-JS implementation (v20.30's does when its binary cannot
 * load): an order of magnitude slower and without native pub/sub, so Cinder refuses to run on it.
 * When no build loads, says in one line what was found and what each build needs.
 */
export function loadNativeUws(): Uws {
  return load().uws;
}

/** What the loaded build can do: code that depends on a build's behaviour asks here. */
export function uwsCapabilities(): UwsCapabilities {
  return load().capabilities;
}

function load(): { uws: Uws; capabilities: UwsCapabilities } {
  return (loaded ??= loadFirst(UWS_BUILDS));
}

/** The first of `builds` whose binary loads here (exported for its tests). */
export function loadFirst(builds: readonly UwsBuild[]): { uws: Uws; capabilities: UwsCapabilities } {
  if (/^(1|true)$/i.test(process.env.UWS_USE_FALLBACK ?? "")) {
    throw new NativeUwsError(
      "UWS_USE_FALLBACK is set, but Cinder runs only on the native uWebSockets.js binary, never on its JavaScript fallback: unset UWS_USE_FALLBACK",
    );
  }
  process.env.UWS_HTTP_MAX_HEADERS_SIZE ??= String(MAX_REQUEST_HEAD_BYTES);
  const refusals: string[] = [];
  for (const build of builds) {
    const attempt = loadBuild(build);
    if ("uws" in attempt) {
      const { version, npmPackage, releasesSendBuffer, upgradesLaterSafely } = build;
      return { uws: attempt.uws, capabilities: { version, npmPackage, releasesSendBuffer, upgradesLaterSafely } };
    }
    refusals.push(attempt.refusal);
  }
  throw new NativeUwsError(`no native uWebSockets.js build loads here: ${platformSummary()}; ${refusals.join("; ")}`);
}

function loadBuild(build: UwsBuild): { uws: Uws } | { refusal: string } {
  const dir = build.binaries();
  if (dir === undefined) return { refusal: `uWS ${build.version} is not installed (npm ci installs it)` };
  const needs = `uWS ${build.version} needs ${needsOf(build, dir)}`;
  const binary = join(dir, `${binaryPrefix()}${process.versions.modules}.node`);
  if (!existsSync(binary)) return { refusal: needs };
  try {
    return { uws: require(binary) as Uws };
  } catch (err) {
    const reason = String((err as Error).message).split("\n")[0];
    return { refusal: `${needs}, and its binary did not load (${reason})` };
  }
}

function binaryPrefix(): string {
  return `uws_${process.platform}_${process.arch}_`;
}

/** "Node 20, 22, 24, 25 (ABI 115, 127, 137, 141) on linux-x64 with glibc ≥ 2.38", from the binaries it has. */
function needsOf(build: UwsBuild, dir: string): string {
  const prefix = binaryPrefix();
  const abis = (existsSync(dir) ? readdirSync(dir) : [])
    .filter((file) => file.startsWith(prefix) && file.endsWith(".node"))
    .map((file) => file.slice(prefix.length, -".node".length))
    .sort((a, b) => Number(a) - Number(b));
  if (abis.length === 0) return `a platform other than ${process.platform}-${process.arch}`;
  const nodes = abis.map((abi) => NODE_OF_ABI[abi] ?? `ABI ${abi}`);
  const libc = process.platform === "linux" ? ` with glibc ≥ ${build.glibc}` : "";
  return `Node ${nodes.join(", ")} (ABI ${abis.join(", ")}) on ${process.platform}-${process.arch}${libc}`;
}

/** The glibc this process runs on ("2.36"), undefined without glibc (musl, macOS, Windows). */
export function glibcVersion(): string | undefined {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime;
}

/** "found Node v24.1.0 (ABI 137) on linux-x64 with glibc 2.36". */
function platformSummary(): string {
  const glibc = glibcVersion();
  const libc = process.platform !== "linux" ? "" : glibc ? ` with glibc ${glibc}` : " without glibc";
  return `found Node ${process.version} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}${libc}`;
}

/**
 * Starts listening on host:port. uSockets sets SO_REUSEPORT on every listen socket unless asked
 * for an exclusive port; with `shared: false` a port another process listens on fails (`false`
 * to `done`) instead of being silently split with it. `shared: true` joins the sockets already
 * listening there with SO_REUSEPORT: the kernel then spreads connections over all of them.
 */
export function listenOn(
  app: TemplatedApp,
  host: string,
  port: number,
  shared: boolean,
  done: (socket: us_listen_socket | false) => void,
): void {
  // The native listen takes (host, port, options, callback); the typings declare only (port, options, callback).
  const listen = app.listen as unknown as (host: string, port: number, options: number, cb: typeof done) => void;
  listen.call(app, host, port, shared ? LISTEN_DEFAULT : LISTEN_EXCLUSIVE_PORT, done);
}

/** uSockets' listen options (uWS's `ListenOptions`). */
const LISTEN_DEFAULT = 0;
const LISTEN_EXCLUSIVE_PORT = 1;

export class NativeUwsError extends Error {
  override readonly name = "NativeUwsError";
}
