import { pathToFileURL } from "node:url";
import type { CinderServer } from "./server.js";

/**
 * An app module sets up a server: channels, the connect hook, timers. It is loaded once per
 * worker thread, so it must do everything through the `server` it is given:
 *
 *   export default function setup(server) { server.channel("room:*", roomChannel); }
 */
export type CinderApp = (server: CinderServer) => void | Promise<void>;

/** Loads an app module by path or file URL; its default export (or `setup`) is the app. */
export async function loadApp(module: string | URL): Promise<CinderApp> {
  const url = module instanceof URL ? module : module.startsWith("file:") ? new URL(module) : pathToFileURL(module);
  const loaded = (await import(url.href)) as { default?: unknown; setup?: unknown };
  const setup = loaded.default ?? loaded.setup;
  if (typeof setup !== "function") {
    throw new TypeError(`app module ${url.href} must export a setup function (export default (server) => { ... })`);
  }
  return setup as CinderApp;
}
