/**
 * Which transfer between worker threads is cheapest for broadcast frames: one thread sends
 * `count` V2 JSON frames (~150 bytes) to another, which touches each one as a publish would.
 * MessagePort and BroadcastChannel, one message per frame or batches per event-loop turn, and a
 * SharedArrayBuffer ring (bytes copied in, Atomics to wake the reader).
 *   npm run bench -- worker-bus [--count 1000000] [--runs 3]
 */
import { BroadcastChannel, MessageChannel, Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { parseFlags } from "../lib/flags.js";
import { median } from "../lib/stats.js";

type Variant = "port-each" | "port-batch" | "broadcast-each" | "broadcast-batch" | "sab-ring";
const VARIANTS: Variant[] = ["port-each", "port-batch", "broadcast-each", "broadcast-batch", "sab-ring"];
const BATCH = 64;
/** Atomics.waitAsync (Node 16+), missing from the ES2022 lib typings. */
type WaitAsync = (array: Int32Array, index: number, value: number) => { async: boolean; value: Promise<unknown> | string };
const RING_BYTES = 1 << 22;

const frame = (i: number) => JSON.stringify([null, null, "room:bench", "new_msg", { user: "bench", body: `m${i}`.padEnd(100, "x") }]);

interface Job {
  variant: Variant;
  count: number;
  port?: import("node:worker_threads").MessagePort;
  ring?: SharedArrayBuffer;
  channelName?: string;
}

export async function run(args: string[]): Promise<void> {
  const f = parseFlags(args);
  const count = f.number("count", 1_000_000);
  const runs = f.number("runs", 3);
  console.log(`| transfer | frames/s (median of ${runs}) |`);
  console.log("|---|---:|");
  for (const variant of VARIANTS) {
    const rates: number[] = [];
    for (let r = 0; r < runs; r++) rates.push(await once(variant, count));
    console.log(`| ${variant} | ${(median(rates) / 1e6).toFixed(2)}M |`);
  }
}

/** Starts a receiver thread, sends `count` frames, resolves frames/s once all arrived. */
async function once(variant: Variant, count: number): Promise<number> {
  const job: Job = { variant, count };
  const transfer: import("node:worker_threads").MessagePort[] = [];
  let port: import("node:worker_threads").MessagePort | undefined;
  let channel: BroadcastChannel | undefined;
  let ring: Int32Array | undefined;
  let bytes: Uint8Array | undefined;
  if (variant.startsWith("port")) {
    const { port1, port2 } = new MessageChannel();
    port = port1;
    job.port = port2;
    transfer.push(port2);
  } else if (variant.startsWith("broadcast")) {
    job.channelName = `bus-${Math.random()}`;
    channel = new BroadcastChannel(job.channelName);
  } else {
    job.ring = new SharedArrayBuffer(RING_BYTES + 16);
    ring = new Int32Array(job.ring, 0, 4); // [writeIndex, readIndex, wake]
    bytes = new Uint8Array(job.ring, 16);
  }
  const worker = new Worker(new URL(import.meta.url), { workerData: job, transferList: transfer });
  await new Promise((resolve) => worker.once("message", resolve)); // ready
  const done = new Promise<number>((resolve) => worker.once("message", (ms: number) => resolve(ms)));
  const started = performance.now();
  const encoder = new TextEncoder();
  let batch: string[] = [];
  for (let i = 0; i < count; i++) {
    const data = frame(i);
    switch (variant) {
      case "port-each":
        port!.postMessage(data);
        break;
      case "broadcast-each":
        channel!.postMessage(data);
        break;
      case "port-batch":
      case "broadcast-batch":
        batch.push(data);
        if (batch.length === BATCH) {
          (port ?? channel)!.postMessage(batch);
          batch = [];
        }
        break;
      case "sab-ring": {
        const encoded = encoder.encode(data);
        // Wait for room: reader lags by at most the ring size.
        while (Atomics.load(ring!, 0) - Atomics.load(ring!, 1) + encoded.length + 4 > RING_BYTES) {
          await new Promise((r) => setImmediate(r));
        }
        let at = Atomics.load(ring!, 0);
        const n = encoded.length;
        bytes![at % RING_BYTES] = n & 255;
        bytes![(at + 1) % RING_BYTES] = (n >> 8) & 255;
        const start = (at + 2) % RING_BYTES;
        if (start + n <= RING_BYTES) bytes!.set(encoded, start);
        else for (let k = 0; k < n; k++) bytes![(start + k) % RING_BYTES] = encoded[k];
        at += n + 2;
        Atomics.store(ring!, 0, at);
        if (i % BATCH === BATCH - 1 || i === count - 1) {
          Atomics.add(ring!, 2, 1);
          Atomics.notify(ring!, 2);
        }
        break;
      }
    }
    // Let the sender's event loop breathe as a server's would between uWS callbacks.
    if (i % 4096 === 4095) await new Promise((r) => setImmediate(r));
  }
  if (batch.length > 0) (port ?? channel)!.postMessage(batch);
  await done;
  const seconds = (performance.now() - started) / 1000;
  port?.close();
  channel?.close();
  await worker.terminate();
  return count / seconds;
}

/** Receiver side: count frames (reading each one's length, as a publish would), then report. */
if (!isMainThread && parentPort && (workerData as Job | undefined)?.variant) {
  const job = workerData as Job;
  const parent = parentPort;
  let received = 0;
  let checksum = 0;
  const seen = (data: string | Uint8Array) => {
    checksum += data.length;
    if (++received === job.count) parent.postMessage(checksum);
  };
  if (job.port) {
    job.port.on("message", (m: string | string[]) => (Array.isArray(m) ? m.forEach(seen) : seen(m)));
  } else if (job.channelName) {
    const channel = new BroadcastChannel(job.channelName);
    channel.onmessage = (event) => {
      const m = (event as unknown as { data: string | string[] }).data;
      if (Array.isArray(m)) m.forEach(seen);
      else seen(m);
      if (received === job.count) channel.close();
    };
  } else if (job.ring) {
    // Atomics.waitAsync does not keep a thread alive; the parent port does.
    parent.on("message", () => {});
    const ring = new Int32Array(job.ring, 0, 4);
    const bytes = new Uint8Array(job.ring, 16);
    const drain = () => {
      let at = Atomics.load(ring, 1);
      const end = Atomics.load(ring, 0);
      while (at < end) {
        const n = bytes[at % RING_BYTES] | (bytes[(at + 1) % RING_BYTES] << 8);
        const start = (at + 2) % RING_BYTES;
        // A publish needs the bytes contiguous: copy them out (as uWS would copy them anyway).
        const copy = start + n <= RING_BYTES ? bytes.slice(start, start + n) : Uint8Array.from({ length: n }, (_, k) => bytes[(start + k) % RING_BYTES]);
        at += n + 2;
        seen(copy);
      }
      Atomics.store(ring, 1, at);
    };
    const wait = () => {
      drain();
      if (received >= job.count) return;
      const result = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(ring, 2, Atomics.load(ring, 2));
      if (result.async) (result.value as Promise<unknown>).then(wait);
      else setImmediate(wait);
    };
    wait();
  }
  parent.postMessage("ready");
}
