/** How long after a write the socket it went to is read, at most, ms. */
export const SWEEP_MS = 1000;

/** What the sweep reads of a socket. */
export interface SweptSocket {
  /** Bytes queued for it that it has not read (uWS's getBufferedAmount), null once closed. */
  readonly ws: { getBufferedAmount(): number } | null;
  /** Over the limit: closed (1013) so the client reconnects and resyncs. */
  closeSlow(): void;
}

/**
 * Slow-consumer policy. uWS keeps at most twice `limit` bytes queued per socket and drops what
 * would go past that, which bounds memory; this sweep closes (1013, "slow consumer") every
 * socket that sits above `limit`, so a client that fell behind reconnects and resyncs instead
 * of silently missing messages. A socket whose direct send was dropped is closed at once.
 * Every socket read is reported to `seen` (the node-wide cap, node-buffer-cap.ts).
 *
 * Queued bytes only grow by writes, so only sockets written to since the last sweep are read,
 * SWEEP_MS after the first of those writes: a socket's own frames name it (`wrote`); a publish
 * to uWS topics does not say whose buffers it filled (`published`), so every socket is read
 * then. With nothing written, no timer runs: an idle thread costs nothing here.
 */
export class SlowConsumerSweep<S extends SweptSocket> {
  private written = new Set<S>();
  private everyone = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly sockets: ReadonlySet<S>,
    private readonly limit: number,
    private readonly seen: (socket: S, bytes: number) => void,
  ) {}

  /** Bytes were written to `socket` alone (a reply, a push, a pong): it is read at the next sweep. */
  wrote(socket: S): void {
    this.written.add(socket);
    if (this.timer === null) this.schedule();
  }

  /** Something was published to uWS topics: every socket is read at the next sweep. */
  published(): void {
    this.everyone = true;
    if (this.timer === null) this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.sweep();
    }, SWEEP_MS);
    this.timer.unref();
  }

  private sweep(): void {
    const written = this.written;
    this.written = new Set();
    const sockets = this.everyone ? this.sockets : written;
    this.everyone = false;
    for (const socket of sockets) {
      const ws = socket.ws;
      if (!ws) continue;
      const bytes = ws.getBufferedAmount();
      if (bytes > this.limit) socket.closeSlow();
      // The node-wide cap learns here of sockets that fell behind on broadcasts (uWS publishes
      // to topics without telling us which sockets it had to buffer for).
      else this.seen(socket, bytes);
    }
  }
}
