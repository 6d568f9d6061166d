import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Socket, SocketOptions, TransportConstructor } from "../../client/index.js";
import { FakeTransport } from "./fake-transport.js";

// Not from ./implementations.js: that loads phoenix before `window` exists.
const fakeTransport = FakeTransport as unknown as TransportConstructor;

/** A window with a document whose visibility the test controls. */
class FakeDocument extends EventTarget {
  visibilityState: "visible" | "hidden" = "visible";
}
class FakeWindow extends EventTarget {
  document = new FakeDocument();
}

type SocketClass = new (endPoint: string, opts?: SocketOptions) => Socket;

// Both clients look for `window` when their module loads. Node keeps phoenix loaded once
// imported, so one window serves the whole file, and each test disconnects its sockets.
const page = new FakeWindow();
const loaders: [string, () => Promise<SocketClass>][] = [
  ["cinder", async () => (await import("../../client/index.js")).Socket],
  ["phoenix", async () => (await import("phoenix")).Socket as unknown as SocketClass],
];

describe.each(loaders)("%s Socket in a page: pagehide, pageshow and visibility", (_name, load) => {
  let SocketImpl: SocketClass;
  const sockets: Socket[] = [];

  beforeEach(async () => {
    vi.stubGlobal("window", page);
    page.document.visibilityState = "visible";
    SocketImpl = await load();
    vi.useFakeTimers();
    FakeTransport.reset();
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.disconnect();
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  function connected(): Socket {
    const socket = new SocketImpl("ws://example.test/socket", { transport: fakeTransport });
    sockets.push(socket);
    socket.connect();
    FakeTransport.latest().open();
    return socket;
  }

  it("disconnects on pagehide and reconnects on pageshow", () => {
    const socket = connected();
    page.dispatchEvent(new Event("pagehide"));
    expect(FakeTransport.latest().closedWith).not.toBeNull();
    vi.advanceTimersByTime(10_000);
    expect(FakeTransport.instances).toHaveLength(1);
    page.dispatchEvent(new Event("pageshow"));
    expect(FakeTransport.instances).toHaveLength(2);
    FakeTransport.latest().open();
    expect(socket.isConnected()).toBe(true);
  });

  it("does not reconnect while hidden, and reconnects at once when visible again", () => {
    connected();
    page.document.visibilityState = "hidden";
    FakeTransport.latest().drop(1006);
    vi.advanceTimersByTime(60_000);
    expect(FakeTransport.instances).toHaveLength(1);
    page.document.visibilityState = "visible";
    page.dispatchEvent(new Event("visibilitychange"));
    vi.advanceTimersByTime(0);
    expect(FakeTransport.instances).toHaveLength(2);
  });

  it("stays disconnected after a deliberate disconnect, whatever the visibility does", () => {
    const socket = connected();
    socket.disconnect();
    vi.advanceTimersByTime(1000);
    page.document.visibilityState = "hidden";
    page.dispatchEvent(new Event("visibilitychange"));
    page.document.visibilityState = "visible";
    page.dispatchEvent(new Event("visibilitychange"));
    page.dispatchEvent(new Event("pageshow"));
    vi.advanceTimersByTime(60_000);
    expect(FakeTransport.instances).toHaveLength(1);
  });
});
