import { totalmem } from "node:os";

/** How often the bytes of sockets known to hold unread data are re-read, and the cap enforced, ms. */
export const NODE_CAP_CHECK_MS = 100;

/**
 * The default node-wide cap on unread outbound bytes: a quarter of the memory the process may
 * use (the machine's, or the cgroup's when that is smaller). These bytes are native memory held
 * by uWS, outside the V8 heap, so the heap limit says nothing about them; a quarter leaves the
 * rest to the heap (presence, history, channels), the kernel's socket buffers and whatever else
 * runs on the machine. 24 GiB of RAM gives 6 GiB: 1,536 sockets at the 4 MiB per-socket limit.
 */
export function defaultNodeBufferCap(): number {
  const limit = Number(process.constrainedMemory?.() ?? 0);
  const usable = limit > 0 && limit < totalmem() ? limit : totalmem();
  return Math.floor(usable / 4);
}

/** What the cap needs of a socket. */
export interface BufferingSocket {
  /** Bytes queued for this socket that it has not read (uWS's getBufferedAmount). */
  readonly bufferedBytes: number;
  /** Closes it as a slow consumer (1013) because the node is over its cap. */
  closeOverNodeCap(): void;
}

export interface NodeBufferCapOptions {
  /** This thread's share of the node's cap, bytes. */
  cap: number;
  /** The thread's buffered bytes changed (the gauge). */
  onTotal(bytes: number): void;
  /** Some sockets were closed by the cap in one pass. */
  onShed(closed: number, freedBytes: number, bufferedBytes: number): void;
}

/**
 * Bounds the unread outbound bytes of all sockets of a thread together. Only sockets known to
 * hold unread bytes are kept (learned when a send meets backpressure, on uWS drain events, and
 * from the slow-consumer sweep a second after a broadcast, which finds sockets that fell behind on
 * broadcasts); their total is kept incrementally, so a message costs nothing here. While some
 * socket holds bytes, they are re-read every NODE_CAP_CHECK_MS, and above the cap the largest
 * are closed first until the total is under it again: a consumer that fell furthest behind
 * costs the most memory and has the most to resync anyway.
 */
export class NodeBufferCap<S extends BufferingSocket> {
  private readonly held = new Map<S, number>();
  private total = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly options: NodeBufferCapOptions) {}

  /** The bytes this thread's sockets hold unread, as last seen. */
  get bufferedBytes(): number {
    return this.total;
  }

  /** Records what `socket` holds now. */
  observe(socket: S, bytes: number): void {
    const before = this.held.get(socket) ?? 0;
    if (bytes === before) return;
    if (bytes > 0) this.held.set(socket, bytes);
    else this.held.delete(socket);
    this.total += bytes - before;
    this.options.onTotal(this.total);
    // Never a pass per message: at most one per NODE_CAP_CHECK_MS, over the cap or not.
    if (this.held.size > 0) this.schedule();
  }

  /** The socket closed (or is closing): its bytes no longer count. */
  forget(socket: S): void {
    const bytes = this.held.get(socket);
    if (bytes === undefined) return;
    this.held.delete(socket);
    this.total -= bytes;
    this.options.onTotal(this.total);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Re-reads every held socket; above the cap, closes the largest until under it. */
  private check(): void {
    if (this.stopped) return;
    let total = 0;
    for (const socket of [...this.held.keys()]) {
      const bytes = socket.bufferedBytes;
      if (bytes > 0) this.held.set(socket, bytes);
      else this.held.delete(socket);
      total += bytes;
    }
    this.total = total;
    if (total > this.options.cap) this.shed();
    this.options.onTotal(this.total);
    if (this.held.size > 0) this.schedule();
  }

  private shed(): void {
    const largestFirst = [...this.held].sort((a, b) => b[1] - a[1]);
    let closed = 0;
    let freed = 0;
    for (const [socket, bytes] of largestFirst) {
      if (this.total <= this.options.cap) break;
      this.held.delete(socket);
      this.total -= bytes;
      freed += bytes;
      closed++;
      socket.closeOverNodeCap();
    }
    this.options.onShed(closed, freed, this.total);
  }

  /** At most one pass per NODE_CAP_CHECK_MS, however many sockets report. */
  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.check();
    }, NODE_CAP_CHECK_MS);
    this.timer.unref();
  }
}
