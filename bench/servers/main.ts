/**
 * Starts one baseline server as its own process so the benchmark can pin it to
 * a core and read its CPU time and memory:
 *   node dist/bench/servers/main.js raw-uws|socketio --port 4100 --host 127.0.0.1 [--redis redis://127.0.0.1:6379]
 * (`--redis`: raw-uws only, fan out across processes through that Redis.)
 * Prints "listening <port>" once it accepts connections.
 */
import { parseFlags } from "../lib/flags.js";
import type { BaselineServer } from "./baseline-server.js";
import { startRawUwsServer } from "./raw-uws.js";
import { startSocketIoServer } from "./socketio.js";

const flags = parseFlags(process.argv.slice(3));
const starters: Record<string, (port: number, host: string) => Promise<BaselineServer>> = {
  "raw-uws": (port, host) => startRawUwsServer(port, host, { redisUrl: flags.has("redis") ? flags.string("redis", "") : undefined }),
  socketio: startSocketIoServer,
};

const name = process.argv[2] ?? "";
const start = starters[name];
if (!start) {
  console.error(`usage: main.js <${Object.keys(starters).join("|")}> [--port N] [--host H]`);
  process.exit(2);
}
const server = await start(flags.number("port", 4100), flags.string("host", "127.0.0.1"));
console.log(`listening ${server.port}`);
const stop = (): void => void server.close().finally(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
