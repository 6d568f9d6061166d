/**
 * The shapes that cross the client's public API: messages as phoenix.js hands them to
 * `onMessage` and to custom `encode`/`decode`, and what a transport must look like.
 */

/** A decoded message, phoenix.js's field names (`join_ref` is null for broadcasts). */
export interface Message<P = unknown> {
  join_ref?: string | null;
  ref?: string | null;
  topic: string;
  event: string;
  payload: P;
}

/** What `socket.push` sends: a message whose payload is an object or raw bytes. */
export type OutgoingMessage = Message<object | ArrayBuffer | Uint8Array>;

/** A reply to a push: `{status: "ok" | "error" | ..., response}`. */
export interface ReplyPayload<R = unknown> {
  status: string;
  response: R;
}

export type EncodedMessage = string | ArrayBuffer | Uint8Array;
export type Encode = (message: OutgoingMessage, callback: (encoded: EncodedMessage) => void) => void;
export type Decode = (raw: string | ArrayBuffer, callback: (message: Message) => void) => void;

/** Channel and connect params: a plain object, or a function re-evaluated at each (re)connect or (re)join. */
export type Params = Record<string, unknown>;

export type Logger = (kind: string, message: string, data?: unknown) => void;

/**
 * The parts of a WebSocket the socket uses. The browser's `WebSocket` and the `ws`
 * package's both fit; event handlers are assigned by the socket.
 */
export interface Transport {
  readonly readyState: number;
  readonly bufferedAmount?: number;
  send(data: string | ArrayBuffer | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export type TransportConstructor = new (endPoint: string, protocols?: string[]) => Transport;

/** Called on a connection error with the transport class in use and how many connections had opened before. */
export type SocketErrorCallback = (error: unknown, transport: TransportConstructor, establishedConnections: number) => void;

/** The close event a transport reports. */
export interface TransportCloseEvent {
  code: number;
  reason?: string;
  wasClean?: boolean;
}

/** How the socket wires itself to a transport; kept apart so `Transport` stays assignable from `ws`. */
export interface TransportHandlers {
  binaryType?: string;
  onopen: (() => void) | null;
  onerror: ((error: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: TransportCloseEvent) => void) | null;
}
