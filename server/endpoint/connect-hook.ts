/** What the connect hook knows about an incoming socket. */
export interface ConnectInfo {
  /** Request headers, lower-case names. */
  headers: Readonly<Record<string, string>>;
  remoteAddress: string;
  /** The token phoenix.js sends with `authToken` (README, "Wire protocol"), if any. */
  authToken: string | undefined;
  /** The serializer the client chose (`?serializer=msgpack`, default "json"). */
  serializer: "json" | "msgpack";
}

/** Accept with assigns (seeding every channel's `socket.assigns`) or refuse with `false` (HTTP 403). */
export type ConnectResult = false | { assigns?: Record<string, unknown> } | true;

/** Phoenix's `connect(params, socket, connect_info)`; params are the query params, vsn included. */
export type ConnectHook = (
  params: Readonly<Record<string, string>>,
  info: ConnectInfo,
) => ConnectResult | Promise<ConnectResult>;
