#!/usr/bin/env node
import { resolve } from "node:path";
import { ConfigError } from "./config.js";
import { helpText, settingsFromCli } from "./cli-options.js";
import { NativeUwsError } from "./native-uws.js";
import { startNode } from "./node.js";

/** `npx cinder` / `npm start`: a node serving the demo chat, or the app given with --app. */
async function main(): Promise<void> {
  const { settings, app, help } = settingsFromCli(process.argv.slice(2), process.env);
  if (help) {
    process.stdout.write(helpText());
    return;
  }
  const node = await startNode({
    demo: app === undefined,
    // The demo (`npm start`) shows its dashboard too; it is open there unless a key is set.
    dashboard: app === undefined,
    ...settings,
    app: app ? resolve(app) : new URL("./demo/app.js", import.meta.url),
  });
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    // Give the last close frames a moment to leave before the process goes.
    node.close().then(() => setTimeout(() => process.exit(0), 100).unref());
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof NativeUwsError) {
    process.stderr.write(`cinder: ${err.message}\n`);
  } else {
    process.stderr.write(`cinder: ${(err as Error)?.stack ?? String(err)}\n`);
  }
  process.exit(1);
});
