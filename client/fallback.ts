import type { SocketErrorCallback, TransportConstructor } from "./message.js";

/** The minimal part of the Storage API the socket uses; `sessionStorage` by default. */
export interface SessionStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The sessionStorage key (phoenix.js's) that remembers, for the tab, that LongPoll was needed. */
export const FALLBACK_MEMORY_KEY = "phx:fallback:LongPoll";

/** The page's sessionStorage, or null where there is none or it may not be used (sandboxed frames throw). */
export function defaultSessionStore(): SessionStore | null {
  try {
    return (globalThis as { sessionStorage?: SessionStore }).sessionStorage || null;
  } catch {
    return null;
  }
}

/** What the fallback needs from the socket (Socket is one); the fields are the socket's fallback state. */
export interface FallbackSocket {
  sessionStore: SessionStore | null;
  fallbackTimer: ReturnType<typeof setTimeout> | undefined;
  fallbackRef: string | undefined;
  primaryPassedHealthCheck: boolean | undefined;
  log(kind: string, msg: string, data?: unknown): void;
  onOpen(callback: () => void): string;
  onError(callback: SocketErrorCallback): string;
  off(refs: string[]): void;
  ping(callback: (latency: number) => void): boolean;
  replaceTransport(newTransport: TransportConstructor): number;
  transportConnect(): void;
}

/**
 * Connects with the socket's transport, switching to `longPoll` when that one fails
 * first (an error before it ever opened) or has not proven itself within `thresholdMs`: opened
 * and answered a ping. A fallback that then opens, on a socket whose primary transport never
 * answered, is remembered in the session store for the tab, so later connects (page reloads
 * included) go straight to the fallback.
 */
export function connectWithFallback(socket: FallbackSocket, longPoll: TransportConstructor, thresholdMs: number): void {
  clearTimeout(socket.fallbackTimer);
  const store = socket.sessionStore;
  let established = false;
  let onPrimary = true;
  let errorRef = "";
  const fallback = (reason?: unknown): void => {
    socket.log("transport", "falling back to LongPoll", reason);
    socket.off([errorRef]);
    onPrimary = false;
    socket.replaceTransport(longPoll);
    socket.transportConnect();
  };
  if (store?.getItem(FALLBACK_MEMORY_KEY)) return fallback("memorized");
  socket.fallbackTimer = setTimeout(fallback, thresholdMs);
  errorRef = socket.onError((reason) => {
    if (onPrimary && !established) {
      clearTimeout(socket.fallbackTimer);
      fallback(reason);
    }
  });
  if (socket.fallbackRef) socket.off([socket.fallbackRef]);
  socket.fallbackRef = socket.onOpen(() => {
    established = true;
    if (!onPrimary) {
      if (!socket.primaryPassedHealthCheck) store?.setItem(FALLBACK_MEMORY_KEY, "true");
      return;
    }
    // Open is not enough (some proxies accept the upgrade and pass nothing): wait for a ping's answer.
    clearTimeout(socket.fallbackTimer);
    socket.fallbackTimer = setTimeout(fallback, thresholdMs);
    socket.ping(() => {
      socket.primaryPassedHealthCheck = true;
      clearTimeout(socket.fallbackTimer);
    });
  });
  socket.transportConnect();
}
