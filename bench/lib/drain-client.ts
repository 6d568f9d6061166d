/**
 * One process of the drain benchmark's clients: opens `--sockets` sockets to `--from`, each
 * joining `bench:<n>` (no presence), prints "ready", and when the server closes a socket
 * reconnects it to `--to` (as if a load balancer sent it to the surviving node) with
 * phoenix.js's backoff (10 ms, then 50, 100, … after each failed attempt). Prints one JSON line
 * with the time (epoch ms) of every reconnect that opened and how many attempts failed, then
 * exits. It speaks WebSocket over plain TCP with a fixed handshake and frame parsing just deep
 * enough to see a close, because a full client library costs more per connect than the server
 * it measures.
 *   node dist/bench/lib/drain-client.js --from 4001 --to 4002 --sockets 5000
 */
import { connect, type Socket } from "node:net";
import { parseFlags } from "./flags.js";

const flags = parseFlags(process.argv.slice(2));
const from = flags.number("from", 4001);
const to = flags.number("to", 4002);
const sockets = flags.number("sockets", 1000);
const topics = flags.number("topics", 100);
const offset = flags.number("offset", 0);
const inflight = 256;

/** phoenix.js's reconnectAfterMs: the delay before the n-th attempt (1-based) after a close. */
const BACKOFF_MS = [10, 50, 100, 150, 200, 250, 500, 1000, 2000];
const backoff = (attempt: number) => BACKOFF_MS[attempt - 1] ?? 5000;

const handshake = (port: number) =>
  `GET /socket/websocket?vsn=2.0.0&user=drain HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/** A masked text frame (mask 0, so the payload goes as is). */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const head = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255]);
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

const reconnectedAt: number[] = [];
/** Reconnect attempts that failed (refused, reset, or closed before opening) and were retried. */
let failedAttempts = 0;
let done = false;

/**
 * Opens one WebSocket and joins; `onOpen` once upgraded, `onEnd(opened)` once it is over (a
 * close frame from the server, or the TCP connection ending).
 */
function open(port: number, index: number, onOpen: () => void, onEnd: (opened: boolean) => void): void {
  const socket: Socket = connect(port, "127.0.0.1");
  let opened = false;
  let ended = false;
  let pending: Buffer = Buffer.alloc(0);
  const end = () => {
    if (ended) return;
    ended = true;
    socket.destroy();
    onEnd(opened);
  };
  socket.setNoDelay(true);
  socket.on("connect", () => socket.write(handshake(port)));
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    if (!opened) {
      const headEnd = pending.indexOf("\r\n\r\n");
      if (headEnd < 0) return;
      if (!pending.subarray(0, 12).toString().startsWith("HTTP/1.1 101")) return end();
      opened = true;
      pending = pending.subarray(headEnd + 4);
      socket.write(textFrame(JSON.stringify(["1", "1", `bench:${(offset + index) % topics}`, "phx_join", { user: `d${offset + index}`, presence: false }])));
      onOpen();
    }
    // Server frames are unmasked: skip whole frames until a close (opcode 8).
    for (;;) {
      if (pending.length < 2) return;
      const opcode = pending[0] & 15;
      let length = pending[1] & 127;
      let at = 2;
      if (length === 126) {
        if (pending.length < 4) return;
        length = pending.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (pending.length < 10) return;
        length = Number(pending.readBigUInt64BE(2));
        at = 10;
      }
      if (opcode === 8) return end();
      if (pending.length < at + length) return;
      pending = pending.subarray(at + length);
    }
  });
  socket.on("error", end);
  socket.on("close", end);
}

function finish(): void {
  if (done) return;
  done = true;
  process.stdout.write(`${JSON.stringify({ reconnectedAt, failedAttempts })}\n`);
  process.exit(0);
}

/** Reconnects to the surviving node as phoenix.js would: after its backoff, again after each failed attempt. */
function reconnect(index: number, attempt = 1): void {
  setTimeout(() => {
    open(
      to,
      index,
      () => {
        reconnectedAt.push(Date.now());
        if (reconnectedAt.length === sockets) finish();
      },
      (opened) => {
        if (opened || done) return;
        failedAttempts++;
        reconnect(index, attempt + 1);
      },
    );
  }, backoff(attempt));
}

let started = 0;
let ready = 0;
function next(): void {
  if (started >= sockets) return;
  const index = started++;
  open(
    from,
    index,
    () => {
      if (++ready === sockets) process.stdout.write("ready\n");
      next();
    },
    (opened) => {
      if (!opened) {
        process.stderr.write(`socket ${index} could not connect to ${from}\n`);
        process.exit(1);
      }
      reconnect(index);
    },
  );
}
for (let i = 0; i < Math.min(inflight, sockets); i++) next();
