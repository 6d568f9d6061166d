#!/usr/bin/env node
import { resolve } from "node:path";
import { ConfigError, DEFAULTS } from "./config.js";
import { helpText, settingsFromCli } from "./cli-options.js";
import { ListenError } from "./endpoint/listen-error.js";
import { NativeUwsError } from "./native-uws.js";
import { startNode } from "./node.js";
import { listeningLine } from "./ops/listening-line.js";
import { sigtermWhenOrphanedUnderNpm } from "./ops/parent-watch.js";

/** `npx cinder` / `npm start`: a node serving the demo chat, or the app given with --app. */
async function main(): Promise<void> {
  const { settings, app, help } = settingsFromCli(process.argv.slice(2), process.env);
  if (help) {
    process.stdout.write(helpText());
    return;
  }
  // Backend hooks without --app: the backend's channels alone, no demo in front of them.
  const demo = app === undefined && settings.hooks === undefined;
  const options = {
    demo,
    // The demo (`npm start`) shows its dashboard too; it is open there unless a key is set.
    dashboard: demo,
    ...settings,
  };
  const appModule = app ? resolve(app) : new URL(demo ? "./demo/app.js" : "./no-app.js", import.meta.url);
  const node = await startNode({ ...options, app: appModule });
  node.drainOnSignals();
  sigtermWhenOrphanedUnderNpm(process.env, () => process.stderr.write("cinder: npm, which started this node, has ended: draining as on SIGTERM\n"));
  // Logs are JSON lines on stdout; this line is for the person who started the node.
  process.stderr.write(
    `${listeningLine({
      host: options.host ?? DEFAULTS.host,
      port: node.port,
      socketPath: options.socketPath ?? DEFAULTS.socketPath,
      demo: options.demo,
      dashboard: options.dashboard,
    })}\n`,
  );
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof NativeUwsError || err instanceof ListenError) {
    process.stderr.write(`cinder: ${err.message}\n`);
  } else {
    process.stderr.write(`cinder: ${(err as Error)?.stack ?? String(err)}\n`);
  }
  process.exit(1);
});
