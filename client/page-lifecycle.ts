import type { Connection } from "./connection.js";

/** What following the page's life needs from the socket (Socket is one). */
export interface LifecycleSocket {
  connection: Connection | null;
  /** Bumped by every connect and disconnect: tells whether the socket was used since the page left. */
  connectClock: number;
  connect(): void;
  disconnect(): void;
  handleVisibilityChange(): void;
}

/** The browser window, when there is one (not in Node or a worker). */
const page: Window | null = typeof window !== "undefined" && typeof window.addEventListener === "function" ? window : null;

export function pageIsHidden(): boolean {
  return page?.document ? page.document.visibilityState === "hidden" : false;
}

/**
 * Ties the socket to the page's life: leaving the page (`pagehide`, e.g. into the back/forward
 * cache) disconnects cleanly and coming back (`pageshow`) reconnects; a page that becomes
 * visible again after losing its connection reconnects at once.
 */
export function followPageLifecycle(socket: LifecycleSocket): void {
  if (!page) return;
  let awaitingPageShow: number | null = null;
  page.addEventListener("pagehide", () => {
    if (socket.connection && !socket.connection.ended) {
      socket.disconnect();
      awaitingPageShow = socket.connectClock;
    }
  });
  page.addEventListener("pageshow", () => {
    if (awaitingPageShow === socket.connectClock) {
      awaitingPageShow = null;
      socket.connect();
    }
  });
  page.addEventListener("visibilitychange", () => socket.handleVisibilityChange());
  page.document?.addEventListener("resume", () => socket.handleVisibilityChange());
}
