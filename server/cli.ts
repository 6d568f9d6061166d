#!/usr/bin/env node
import { ConfigError } from "./config.js";
import { settingsFromCli, USAGE } from "./cli-options.js";
import { roomChannel } from "./demo/room-channel.js";
import { NativeUwsError } from "./native-uws.js";
import { createServer, type CinderServer } from "./server.js";

/** `npx cinder` / `npm start`: a node with the demo chat unless DEMO=false. */
async function main(): Promise<void> {
  const { settings, help } = settingsFromCli(process.argv.slice(2), process.env);
  if (help) {
    process.stdout.write(USAGE);
    return;
  }
  const server: CinderServer = createServer({ demo: true, ...settings });
  if (server.config.demo) server.channel("room:*", roomChannel);
  await server.listen();
  const shutdown = (signal: string) => {
    server.log.info({ signal }, "shutting down");
    // Give the close frames a moment to leave before the process goes.
    server.close().then(() => setTimeout(() => process.exit(0), 200).unref());
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof NativeUwsError) {
    process.stderr.write(`cinder: ${err.message}\n`);
  } else {
    process.stderr.write(`cinder: ${(err as Error)?.stack ?? String(err)}\n`);
  }
  process.exit(1);
});
