import { createRequire } from "node:module";
import type * as UWS from "uWebSockets.js";

export type Uws = typeof UWS;

const require = createRequire(import.meta.url);

/**
 * Loads uWebSockets.js and proves that the native binary is what loaded.
 *
 * The package we depend on quietly falls back to a pure-JS implementation when its binary
 * cannot load (wrong Node ABI, wrong glibc, or UWS_USE_FALLBACK set). That fallback is an
 * order of magnitude slower and lacks native pub/sub, so we refuse to run on it.
 */
export function loadNativeUws(): Uws {
  const uws = require("uWebSockets.js") as Uws;
  const nativeModule = Object.entries(require.cache).find(
    ([file, mod]) => file.endsWith(".node") && /uws_/.test(file) && mod?.exports === uws,
  );
  if (!nativeModule) {
    throw new NativeUwsError(
      `uWebSockets.js loaded its JavaScript fallback instead of the native binary ` +
        `(platform ${process.platform}-${process.arch}, Node ABI ${process.versions.modules}); ` +
        `Cinder runs only on the native uWebSockets.js binary. Unset UWS_USE_FALLBACK, use Node 20 on ` +
        `linux-x64 with glibc >= 2.36, or reinstall dependencies.`,
    );
  }
  return uws;
}

/**
 * Starts listening on host:port. uSockets sets SO_REUSEPORT on every listen socket unless asked
 * for an exclusive port; with `shared: false` a port another process listens on fails (`false`
 * to `done`) instead of being silently split with it. `shared: true` joins the sockets already
 * listening there with SO_REUSEPORT: the kernel then spreads connections over all of them.
 */
export function listenOn(
  app: UWS.TemplatedApp,
  host: string,
  port: number,
  shared: boolean,
  done: (socket: UWS.us_listen_socket | false) => void,
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
