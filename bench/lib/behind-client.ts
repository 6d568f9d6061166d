/**
 * The Node clients of `npm run bench -- behind` (`--client node`; the default is their native twin,
 * bench/native/behind/behind.c, with the same flags, lines and report), in one process: `--fast` + `--slow` subscribers of
 * `--topic` and one publisher that pushes `m` at `--rate` a second for `--duration` seconds,
 * each carrying its sequence number `s`, its send time `t` (µs of this process's clock), its key
 * `k` (s mod `--keys`) and `--bytes` of body. The slow subscribers read their TCP sockets at
 * `--slow-share` of the stream's byte rate (a token bucket pausing and resuming the socket);
 * once the publisher stops they read freely until every subscriber still connected has the last
 * message, or `--release-s` passes. Prints `ready`, `traffic-end`, then one JSON line (BehindClientReport).
 *
 * It speaks WebSocket over plain TCP with just enough framing to find each frame, and reads a
 * message's numbers at their known places rather than parsing its JSON: 1,000 sockets at 500
 * messages a second is 500,000 frames a second for one core.
 *   node dist/bench/lib/behind-client.js --port 4000 --topic bh:1 --kind history --fast 900 --slow 100
 */
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { parseFlags } from "./flags.js";

const flags = parseFlags(process.argv.slice(2));
const port = flags.number("port", 4000);
const topic = flags.string("topic", "bh:1");
const kind = flags.string("kind", "history") as "history" | "conflate";
const fastCount = flags.number("fast", 900);
const slowCount = flags.number("slow", 100);
const rate = flags.number("rate", 500);
const bodyBytes = flags.number("bytes", 1024);
const durationS = flags.number("duration", 40);
const warmupS = flags.number("warmup", 2);
const slowShare = flags.number("slow-share", 0.1);
const keys = flags.number("keys", 100);
const releaseS = flags.number("release-s", 120);

/** Sent at most this many messages (a bound on every per-message table). */
const capacity = Math.ceil(rate * durationS * 1.2) + 1000;
const HIST_STEP_US = 10;
const HIST_BUCKETS = 500_000; // up to 5 s

export interface GroupReport {
  clients: number;
  /** Clients whose connection ended (close frame or TCP end), by close code ("tcp" without one). */
  closed: Record<string, number>;
  /** Messages a client never got, summed (a history_gap's range excluded; all of them for a closed client). */
  missing: number;
  duplicates: number;
  outOfOrder: number;
  historyGaps: number;
  /** Offsets a history_gap skipped, summed. */
  skippedByGaps: number;
  /** Conflation: keys whose last value was not the key's last message, summed over clients. */
  wrongKeys: number;
  /** Messages received, summed. */
  received: number;
  /** Clients that had the last message before the end. */
  complete: number;
  /** How many messages behind the publisher each client was when it stopped: median. */
  lagAtTrafficEndMedian: number;
}

export interface BehindClientReport {
  sent: number;
  fast: GroupReport;
  slow: GroupReport;
  /** Per delivery to a fast subscriber, publish to receipt, ms (warm-up excluded). */
  latencyMs: { p50: number; p99: number; p999: number; samples: number };
  /** Per broadcast, publish until every fast subscriber had it, ms. */
  completeMs: { p50: number; p99: number; broadcasts: number };
  /** This process's CPU time during the traffic, as a share of one core. */
  clientCpuShare: number;
  /** Seconds from the publisher's stop until every subscriber still connected had the last message. */
  releaseSeconds: number;
}

const MESSAGE_PREFIX = Buffer.from('{"s":');
const OFFSET_KEY = Buffer.from('"_o":');

const handshake = () =>
  `GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/** A masked text frame (mask 0, so the payload goes as is). */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const head = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255]);
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

/** The unsigned integer written at `at` in `buf`, and where it ends. */
function readInt(buf: Buffer, at: number): [number, number] {
  let n = 0;
  let c = buf[at];
  while (c >= 48 && c <= 57) {
    n = n * 10 + (c - 48);
    c = buf[++at];
  }
  return [n, at];
}

class Subscriber {
  socket!: Socket;
  pending: Buffer = Buffer.alloc(0);
  opened = false;
  joined = false;
  closedWith: string | null = null;
  /** Which sequence numbers (history: offsets) it got. */
  readonly seen = new Uint8Array(capacity + 2);
  maxSeen = -1;
  received = 0;
  duplicates = 0;
  outOfOrder = 0;
  gaps = 0;
  /** Offset ranges a history_gap skipped: [from, to) pairs. */
  readonly skipped: Array<[number, number]> = [];
  readonly lastByKey: Int32Array;
  // Token bucket (slow subscribers while the traffic runs).
  throttled = false;
  tokens = 0;
  refilledAt = 0;
  paused = false;
  lagAtTrafficEnd = 0;

  constructor(
    readonly index: number,
    readonly slow: boolean,
    public onJoined: () => void,
  ) {
    this.lastByKey = new Int32Array(kind === "conflate" ? keys : 0).fill(-1);
  }

  get done(): boolean {
    return this.closedWith !== null || (sentTotal > 0 && this.seen[lastId()] === 1);
  }

  open(): void {
    const socket = connect(port, "127.0.0.1");
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("connect", () => socket.write(handshake()));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    const end = () => {
      if (this.closedWith === null) this.closedWith = "tcp";
      checkDone();
    };
    socket.on("error", end);
    socket.on("close", end);
  }

  /** Slow while the traffic runs: reads at most `bytesPerSecond` on average. */
  throttle(bytesPerSecond: number | null): void {
    this.throttled = bytesPerSecond !== null;
    this.tokens = 16 * 1024;
    this.refilledAt = performance.now();
    slowBytesPerSecond = bytesPerSecond ?? 0;
    if (!this.throttled && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private onData(chunk: Buffer): void {
    if (this.throttled) this.spend(chunk.length);
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (!this.opened) {
      const headEnd = this.pending.indexOf("\r\n\r\n");
      if (headEnd < 0) return;
      if (!this.pending.subarray(0, 12).toString().startsWith("HTTP/1.1 101")) {
        this.closedWith = "refused";
        this.socket.destroy();
        return;
      }
      this.opened = true;
      this.pending = this.pending.subarray(headEnd + 4);
      this.socket.write(textFrame(JSON.stringify(["1", "1", topic, "phx_join", {}])));
    }
    const buf = this.pending;
    let at = 0;
    for (;;) {
      if (buf.length - at < 2) break;
      const opcode = buf[at] & 15;
      let length = buf[at + 1] & 127;
      let head = 2;
      if (length === 126) {
        if (buf.length - at < 4) break;
        length = buf.readUInt16BE(at + 2);
        head = 4;
      } else if (length === 127) {
        if (buf.length - at < 10) break;
        length = Number(buf.readBigUInt64BE(at + 2));
        head = 10;
      }
      if (buf.length - at < head + length) break;
      const start = at + head;
      const end = start + length;
      if (opcode === 8) {
        this.closedWith = length >= 2 ? String(buf.readUInt16BE(start)) : "close";
        this.socket.destroy();
        checkDone();
        return;
      }
      if (opcode === 1 || opcode === 2) this.onFrame(buf, start, end);
      at = end;
    }
    this.pending = at === buf.length ? Buffer.alloc(0) : buf.subarray(at);
  }

  private spend(bytes: number): void {
    const now = performance.now();
    this.tokens = Math.min(this.tokens + ((now - this.refilledAt) / 1000) * slowBytesPerSecond, 64 * 1024);
    this.refilledAt = now;
    this.tokens -= bytes;
    if (this.tokens >= 0 || this.paused) return;
    this.paused = true;
    this.socket.pause();
    setTimeout(() => {
      if (!this.paused) return;
      this.paused = false;
      this.refilledAt = performance.now();
      this.tokens = 0;
      this.socket.resume();
    }, Math.ceil((-this.tokens / slowBytesPerSecond) * 1000));
  }

  private onFrame(buf: Buffer, start: number, end: number): void {
    const p = buf.indexOf(MESSAGE_PREFIX, start);
    if (p < 0 || p >= end || end - start < 200) return this.onSmallFrame(buf.toString("utf8", start, end));
    const [s, afterS] = readInt(buf, p + 5);
    const [t, afterT] = readInt(buf, afterS + 5);
    const [k] = readInt(buf, afterT + 5);
    let id = s;
    if (kind === "history") {
      const o = buf.lastIndexOf(OFFSET_KEY, end);
      id = o > start ? readInt(buf, o + 5)[0] - 1 : -1;
    }
    this.onMessage(id, t, k);
  }

  private onMessage(id: number, tUs: number, key: number): void {
    if (id < 0 || id > capacity) return;
    this.received++;
    if (this.seen[id] === 1) this.duplicates++;
    else if (id < this.maxSeen) this.outOfOrder++;
    this.seen[id] = 1;
    if (id > this.maxSeen) this.maxSeen = id;
    if (kind === "conflate") {
      if (key < this.lastByKey.length) {
        if (this.lastByKey[key] > id) this.outOfOrder++;
        this.lastByKey[key] = id;
      }
    }
    if (!this.slow) {
      const latencyUs = performance.now() * 1000 - tUs;
      if (id >= warmupMessages && id < capacity) {
        histogram[Math.min(HIST_BUCKETS - 1, Math.max(0, Math.floor(latencyUs / HIST_STEP_US)))]++;
        if (latencyUs > completeMaxUs[id]) completeMaxUs[id] = latencyUs;
        completeCount[id]++;
      }
    }
    if (sentTotal > 0 && id === lastId()) checkDone();
  }

  private onSmallFrame(text: string): void {
    const frame = JSON.parse(text) as [string | null, string | null, string, string, Record<string, unknown>];
    const [, ref, , event, payload] = frame;
    if (event === "phx_reply" && ref === "1") {
      if ((payload as { status?: string }).status !== "ok") throw new Error(`join refused: ${text}`);
      this.joined = true;
      this.onJoined();
    } else if (event === "history_gap") {
      this.gaps++;
      const from = Number(payload.from);
      const to = Number(payload._o);
      // Offsets from+1…to are skipped: ids from…to-1.
      this.skipped.push([from, to]);
      for (let id = from; id < to && id <= capacity; id++) this.seen[id] = this.seen[id] || 2;
    } else if (event === "phx_error" || event === "phx_close") {
      this.closedWith = event;
    }
  }
}

let sentTotal = 0;
let slowBytesPerSecond = 0;
const lastId = () => sentTotal - 1;
const warmupMessages = Math.floor(rate * warmupS);
const histogram = new Uint32Array(HIST_BUCKETS);
const completeMaxUs = new Float64Array(capacity + 1);
const completeCount = new Uint16Array(capacity + 1);
let onAllDone: () => void = () => {};
let trafficOver = false;

const subscribers: Subscriber[] = [];
function checkDone(): void {
  if (trafficOver && subscribers.every((s) => s.done)) onAllDone();
}

function percentileOfHistogram(q: number): number {
  let total = 0;
  for (const n of histogram) total += n;
  const rank = Math.ceil(total * q);
  let seen = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) {
    seen += histogram[i];
    if (seen >= rank && total > 0) return ((i + 0.5) * HIST_STEP_US) / 1000;
  }
  return 0;
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)];
}

function group(list: Subscriber[]): GroupReport {
  const report: GroupReport = {
    clients: list.length,
    closed: {},
    missing: 0,
    duplicates: 0,
    outOfOrder: 0,
    historyGaps: 0,
    skippedByGaps: 0,
    wrongKeys: 0,
    received: 0,
    complete: 0,
    lagAtTrafficEndMedian: 0,
  };
  const lags: number[] = [];
  for (const s of list) {
    if (s.closedWith !== null) report.closed[s.closedWith] = (report.closed[s.closedWith] ?? 0) + 1;
    report.duplicates += s.duplicates;
    report.outOfOrder += s.outOfOrder;
    report.historyGaps += s.gaps;
    report.received += s.received;
    if (s.seen[lastId()] === 1) report.complete++;
    lags.push(s.lagAtTrafficEnd);
    if (kind === "conflate" && s.slow) {
      // The latest of every key, each key's values in order (counted above); not every message.
      for (let key = 0; key < keys; key++) {
        const expected = lastId() - ((((lastId() - key) % keys) + keys) % keys);
        if (expected >= 0 && s.lastByKey[key] !== expected) report.wrongKeys++;
      }
    } else {
      for (let id = 0; id < sentTotal; id++) {
        if (s.seen[id] === 0) report.missing++;
        else if (s.seen[id] === 2) report.skippedByGaps++;
      }
    }
  }
  lags.sort((a, b) => a - b);
  report.lagAtTrafficEndMedian = lags.length ? lags[lags.length >> 1] : 0;
  return report;
}

async function main(): Promise<void> {
  let joined = 0;
  let onJoinedAll: () => void = () => {};
  const allJoined = new Promise<void>((resolve) => (onJoinedAll = resolve));
  const total = fastCount + slowCount;
  // Slow ones spread among the fast ones.
  const stride = slowCount > 0 ? total / slowCount : Infinity;
  for (let i = 0; i < total; i++) {
    const slow = slowCount > 0 && Math.floor(i % stride) === 0 && subscribers.filter((s) => s.slow).length < slowCount;
    subscribers.push(new Subscriber(i, slow, () => ++joined === total && onJoinedAll()));
  }
  // At most 100 handshakes in flight.
  for (let at = 0; at < total; at += 100) {
    const batch = subscribers.slice(at, at + 100);
    for (const s of batch) s.open();
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (batch.every((s) => s.joined || s.closedWith !== null)) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
  }
  await allJoined;

  const publisher = new Subscriber(-1, false, () => {});
  let publisherJoined: () => void = () => {};
  const publisherReady = new Promise<void>((resolve) => (publisherJoined = resolve));
  publisher.onJoined = publisherJoined;
  publisher.open();
  await publisherReady;
  process.stdout.write("ready\n");

  const heartbeat = setInterval(() => {
    const frame = textFrame(JSON.stringify([null, "hb", "phoenix", "heartbeat", {}]));
    for (const s of [...subscribers, publisher]) if (s.closedWith === null) s.socket.write(frame);
  }, 20_000);

  // The stream's bytes per second, and a tenth of it for the slow ones.
  const frameBytes = bodyBytes + 110 + topic.length;
  for (const s of subscribers) if (s.slow) s.throttle(rate * frameBytes * slowShare);

  const body = "x".repeat(bodyBytes);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const limit = Math.floor(rate * durationS);
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(limit, Math.floor(((performance.now() - started) / 1000) * rate));
      for (; sentTotal < due; sentTotal++) {
        const t = Math.round(performance.now() * 1000);
        publisher.socket.write(textFrame(`[null,"${sentTotal + 1}","${topic}","m",{"s":${sentTotal},"t":${t},"k":${sentTotal % keys},"b":"${body}"}]`));
      }
      if (sentTotal >= limit) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  const trafficSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  for (const s of subscribers) s.lagAtTrafficEnd = Math.max(0, sentTotal - 1 - s.maxSeen);
  process.stdout.write("traffic-end\n");

  const releasedAt = performance.now();
  trafficOver = true;
  for (const s of subscribers) if (s.slow) s.throttle(null);
  await new Promise<void>((resolve) => {
    onAllDone = resolve;
    setTimeout(resolve, releaseS * 1000).unref();
    checkDone();
  });
  const releaseSeconds = (performance.now() - releasedAt) / 1000;
  clearInterval(heartbeat);

  const completes: number[] = [];
  const fast = subscribers.filter((s) => !s.slow && s.closedWith === null).length;
  for (let id = warmupMessages; id < sentTotal; id++) if (completeCount[id] === fast) completes.push(completeMaxUs[id] / 1000);
  const sorted = Float64Array.from(completes).sort();
  let samples = 0;
  for (const n of histogram) samples += n;
  const report: BehindClientReport = {
    sent: sentTotal,
    fast: group(subscribers.filter((s) => !s.slow)),
    slow: group(subscribers.filter((s) => s.slow)),
    latencyMs: { p50: percentileOfHistogram(0.5), p99: percentileOfHistogram(0.99), p999: percentileOfHistogram(0.999), samples },
    completeMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), broadcasts: sorted.length },
    clientCpuShare: (cpu.user + cpu.system) / 1e6 / trafficSeconds,
    releaseSeconds,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  for (const s of [...subscribers, publisher]) s.socket.destroy();
  process.exit(0);
}

// Ends with its parent (the scenario kills it on any exit too).
process.on("disconnect", () => process.exit(1));
main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
