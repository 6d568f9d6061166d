/**
 * The uWebSockets.js types Cinder uses, the same whichever build server/native-uws.ts loaded:
 * nothing outside these two files names a uWS package.
 *
 * They are v20.30's typings: v20.57 has every function and method in them (its own typings leave
 * out the fragment sends, which its binary has; both binaries return a send status, 0/1/2, from
 * them, not the boolean these typings say), except `_cfg`, which `Uws` leaves out. Where v20.57
 * answers differently, Cinder does not depend on it: `HttpRequest.getQuery(key)` and
 * `getParameter(index)` give `undefined` instead of "" for a missing value there, and Cinder calls
 * only `getQuery()`. `TemplatedApp.close()` is in both binaries (v20.30's typings leave it out).
 * Features that only v20.57 has (`filter`, the `dropped` handler) are not here, so nothing can
 * come to depend on them. docs/runtimes.md lists the differences between the builds.
 */
import type * as V20_30 from "uws-v20.30";

/** The loaded module: what both builds export that Cinder may call. */
export type Uws = Omit<typeof V20_30, "_cfg" | "App"> & {
  App(options?: V20_30.AppOptions): TemplatedApp;
};

export type TemplatedApp = V20_30.TemplatedApp & {
  /**
   * Closes the app's listen sockets and every connection it holds, at once (WebSockets and HTTP,
   * idle keep-alive ones too).
   */
  close(): TemplatedApp;
};
export type WebSocket<UserData> = V20_30.WebSocket<UserData>;
export type WebSocketBehavior<UserData> = V20_30.WebSocketBehavior<UserData>;
export type HttpRequest = V20_30.HttpRequest;
export type HttpResponse = V20_30.HttpResponse;
export type RecognizedString = V20_30.RecognizedString;
export type us_listen_socket = V20_30.us_listen_socket;
export type us_socket_context_t = V20_30.us_socket_context_t;
