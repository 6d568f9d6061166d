/**
 * One process of the drain benchmark's clients: opens `--sockets` sockets to `--from`, each
 * joining `bench:<n>` (no presence), prints "ready", and when a socket is closed reconnects at
 * once to `--to` (as if a load balancer sent it to the surviving node). Prints one JSON line
 * with the time (epoch ms) of every reconnect that opened, then exits.
 *   node dist/bench/lib/drain-client.js --from 4001 --to 4002 --sockets 5000
 */
import WebSocket from "ws";
import { parseFlags } from "./flags.js";

const flags = parseFlags(process.argv.slice(2));
const from = flags.number("from", 4001);
const to = flags.number("to", 4002);
const sockets = flags.number("sockets", 1000);
const topics = flags.number("topics", 100);
const offset = flags.number("offset", 0);
const inflight = 256;
const url = (port: number) => `ws://127.0.0.1:${port}/socket/websocket?vsn=2.0.0&user=drain`;

const reconnectedAt: number[] = [];
const closeCodes: Record<string, number> = {};
let failures = 0;

function open(port: number, index: number, onOpen: () => void, onClose: (code: number) => void): void {
  const ws = new WebSocket(url(port));
  ws.on("open", () => {
    const ref = String(index);
    ws.send(JSON.stringify([ref, ref, `bench:${(offset + index) % topics}`, "phx_join", { user: `d${offset + index}`, presence: false }]));
    onOpen();
  });
  ws.on("error", () => undefined);
  ws.on("close", (code) => onClose(code));
}

function reconnect(index: number): void {
  open(
    to,
    index,
    () => {
      reconnectedAt.push(Date.now());
      if (reconnectedAt.length + failures === sockets) finish();
    },
    (code) => {
      // Closed before or after opening on the surviving node: count a failure only once.
      if (code !== 1000 && reconnectedAt.length + failures < sockets && !done) failures++;
      if (reconnectedAt.length + failures === sockets) finish();
    },
  );
}

let done = false;
function finish(): void {
  if (done) return;
  done = true;
  process.stdout.write(`${JSON.stringify({ reconnectedAt, failures, closeCodes })}\n`);
  process.exit(0);
}

let started = 0;
let opened = 0;
function next(): void {
  if (started >= sockets) return;
  const index = started++;
  let wasOpen = false;
  open(
    from,
    index,
    () => {
      wasOpen = true;
      if (++opened === sockets) process.stdout.write("ready\n");
      next();
    },
    (code) => {
      if (!wasOpen) {
        process.stderr.write(`socket ${index} could not connect to ${from}\n`);
        process.exit(1);
      }
      closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      reconnect(index);
    },
  );
}
for (let i = 0; i < Math.min(inflight, sockets); i++) next();
