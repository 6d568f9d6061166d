import type { Identity } from "../auth/identity.js";

/** What the connect hook knows about an incoming socket. */
export interface ConnectInfo {
  /** Request headers, lower-case names. */
  headers: Readonly<Record<string, string>>;
  remoteAddress: string;
  /** The token phoenix.js sends with `authToken` (docs/protocol.md), if any. */
  authToken: string | undefined;
  /** The serializer the client chose (`?serializer=msgpack`, default "json"). */
  serializer: "json" | "msgpack";
  /** With built-in auth (`auth` option): who the verified token says the socket is. The hook runs only for valid tokens. */
  identity: Identity | undefined;
}

/**
 * Accept with assigns (seeding every channel's `socket.assigns`, on top of the token's `meta`)
 * or refuse with `false` (HTTP 403). `id` is Phoenix's socket `id/1`: `server.disconnect(id)`
 * closes every socket with it, on every node (default: the token's `sub`, with built-in auth).
 */
export type ConnectResult = false | { assigns?: Record<string, unknown>; id?: string } | true;

/** Phoenix's `connect(params, socket, connect_info)`; params are the query params, vsn included. */
export type ConnectHook = (
  params: Readonly<Record<string, string>>,
  info: ConnectInfo,
) => ConnectResult | Promise<ConnectResult>;

/**
 * Thrown (or rejected) by a connect hook that cannot decide now, its backend being down, slow or
 * busy: the socket is refused with 503 and `message`, so the client tells "try again" from "no"
 * (403). Anything else a hook throws is a 500.
 */
export class ConnectUnavailable extends Error {
  override readonly name = "ConnectUnavailable";
}
