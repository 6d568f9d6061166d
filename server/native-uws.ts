import { createRequire } from "node:module";
import type * as UWS from "uWebSockets.js";

export type Uws = typeof UWS;

declare module "uWebSockets.js" {
  interface TemplatedApp {
    /**
     * Closes the app's listen sockets and every connection it holds, at once (WebSockets and
     * HTTP, idle keep-alive ones too). The v20.30 binary has it; its typings do not say so.
     */
    close(): TemplatedApp;
  }
}

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

export class NativeUwsError extends Error {
  override readonly name = "NativeUwsError";
}
