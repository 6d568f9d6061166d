import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CLOSE, noReply, ok, type ChannelHandler } from "../../server/index.js";
import { SlowConsumerSweep, SWEEP_MS, type SweptSocket } from "../../server/socket/slow-consumers.js";
import { KiB, MiB, tcp } from "../support/behind.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { waitFor } from "../support/wait.js";

/** A socket holding `bytes` unread; counts how often the sweep read it. */
class HeldSocket implements SweptSocket {
  reads = 0;
  closed = false;
  constructor(private bytes: number) {}
  get ws() {
    return this.closed ? null : { getBufferedAmount: () => (this.reads++, this.bytes) };
  }
  closeSlow(): void {
    this.closed = true;
  }
}

const LIMIT = 1000;

describe("the slow-consumer sweep", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  function sweepOf(...sockets: HeldSocket[]) {
    const seen = new Map<HeldSocket, number>();
    const sweep = new SlowConsumerSweep(new Set(sockets), LIMIT, (socket, bytes) => seen.set(socket, bytes));
    return { sweep, seen };
  }

  it("runs no timer while nothing is written", () => {
    const idle = new HeldSocket(LIMIT * 2);
    sweepOf(idle);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(SWEEP_MS * 10);
    expect(idle.reads).toBe(0);
  });

  it("reads a socket written to a sweep later, and only it: over the limit it is closed", () => {
    const over = new HeldSocket(LIMIT + 1);
    const under = new HeldSocket(LIMIT);
    const untouched = new HeldSocket(LIMIT * 2);
    const { sweep, seen } = sweepOf(over, under, untouched);
    sweep.wrote(over);
    sweep.wrote(under);
    sweep.wrote(over);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(SWEEP_MS);
    expect(over.closed).toBe(true);
    expect(under.closed).toBe(false);
    expect(seen.get(under)).toBe(LIMIT);
    expect(untouched.reads).toBe(0);
    // Nothing written since: the timer is gone until the next write.
    expect(vi.getTimerCount()).toBe(0);
    sweep.wrote(under);
    vi.advanceTimersByTime(SWEEP_MS);
    expect(under.reads).toBe(2);
  });

  it("reads every socket after a publish to uWS topics, which does not say whose buffers it filled", () => {
    const sockets = [new HeldSocket(0), new HeldSocket(LIMIT + 1), new HeldSocket(5)];
    const { sweep, seen } = sweepOf(...sockets);
    sweep.published();
    vi.advanceTimersByTime(SWEEP_MS);
    expect(sockets.map((s) => s.reads)).toEqual([1, 1, 1]);
    expect(sockets.map((s) => s.closed)).toEqual([false, true, false]);
    expect([...seen.values()]).toEqual([0, 5]);
    vi.advanceTimersByTime(SWEEP_MS * 10);
    expect(sockets.map((s) => s.reads)).toEqual([1, 1, 1]);
  });

  it("stops for good", () => {
    const socket = new HeldSocket(LIMIT + 1);
    const { sweep } = sweepOf(socket);
    sweep.wrote(socket);
    sweep.stop();
    sweep.published();
    vi.advanceTimersByTime(SWEEP_MS * 10);
    expect(socket.reads).toBe(0);
  });
});

const opened = perTest();

describe("a socket that stops reading its own frames", () => {
  it("is closed as a slow consumer (1013) once it holds more than maxBufferedBytes, with no broadcast at all", async () => {
    const BODY = "x".repeat(64 * KiB);
    // Each push from the client is answered with a big frame to it alone.
    const echo: ChannelHandler = { join: () => ok(), handleIn: (_event, _payload, socket) => (socket.push("bulk", { body: BODY }), noReply()) };
    const server = await opened.server({ maxBufferedBytes: 1 * MiB, channels: { "e:*": echo } });
    const client = await opened.raw(server);
    await client.join("e:1", { user: "u", presence: false });
    tcp(client).pause();
    // More pushes until the server holds more than the limit for it, and less than twice it
    // (past that uWS drops a send, and the socket is closed at once): then nothing more is sent.
    // The sweep may close it before the gauge is read over the limit.
    const cut = async () => (await metricOf(server, "cinder_slow_consumer_disconnects_total")) >= 1;
    let asked = 0;
    await waitFor(
      async () => {
        client.send(["j1", String(++asked), "e:1", "more", {}]);
        await waitFor(async () => (await metricOf(server, "cinder_messages_received_total")) >= asked + 1 || (await cut()), "the push to be handled");
        return (await metricOf(server, "cinder_buffered_bytes")) > 1 * MiB || (await cut());
      },
      "the server to hold more than the limit for the socket",
      30_000,
    );
    // Nothing is written to it any more, and it reads nothing: the sweep that its last frames
    // scheduled must still come and cut it.
    await waitFor(cut, "the sweep to cut the socket", 15_000);
    tcp(client).resume();
    expect(await client.closed()).toMatchObject({ code: CLOSE.slowConsumer, reason: expect.stringContaining("too much unread data") });
    expect(await metricOf(server, "cinder_slow_consumer_disconnects_total")).toBe(1);
  }, 60_000);
});
