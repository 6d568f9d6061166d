/**
 * One process of the drain benchmark's clients: opens `--sockets` sockets to `--from`, each
 * joining `bench:<n>` (no presence), prints "ready", and when a socket is closed reconnects at
 * to `--to` (as if a load balancer sent it to the surviving node) with phoenix.js's backoff
 * (10 ms, then 50, 100, … after each failed attempt). Prints one JSON line with the time (epoch
 * ms) of every reconnect that opened and how many attempts failed, then exits.
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
/** Reconnect attempts that failed (refused, reset, or closed before opening) and were retried. */
let failedAttempts = 0;

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

/** phoenix.js's reconnectAfterMs: the delay before the n-th attempt (1-based) after a close. */
const BACKOFF_MS = [10, 50, 100, 150, 200, 250, 500, 1000, 2000];
const backoff = (attempt: number) => BACKOFF_MS[attempt - 1] ?? 5000;

/** Reconnects to the surviving node as phoenix.js would: after its backoff, again after each failed attempt. */
function reconnect(index: number, attempt = 1): void {
  setTimeout(() => {
    let opened = false;
    open(
      to,
      index,
      () => {
        opened = true;
        reconnectedAt.push(Date.now());
        if (reconnectedAt.length === sockets) finish();
      },
      () => {
        if (opened || done) return;
        failedAttempts++;
        reconnect(index, attempt + 1);
      },
    );
  }, backoff(attempt));
}

let done = false;
function finish(): void {
  if (done) return;
  done = true;
  process.stdout.write(`${JSON.stringify({ reconnectedAt, failedAttempts, closeCodes })}\n`);
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
