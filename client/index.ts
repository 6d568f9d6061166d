/**
 * cinder/client: the browser SDK, with phoenix.js's public API (`Socket`, `Channel`, `Push`,
 * `Presence`, `Serializer`, `LongPoll`). The msgpack serializer is a separate entry, `cinder/client/msgpack`.
 */
export { Socket } from "./socket.js";
export type { BinaryType, ConnectionState, SocketOptions } from "./socket.js";
export { Channel } from "./channel.js";
export type { BindingCallback, ChannelHost, TransportErrorPayload } from "./channel.js";
export { Push } from "./push.js";
export type { Recovery, RecoverCallback } from "./recovery.js";
export type { PushChannel, PushSocket, PushStatus } from "./push.js";
export * from "./presence.js";
export { Serializer } from "./serializer.js";
export type { ClientSerializer } from "./serializer.js";
export { Timer } from "./timer.js";
export { LongPoll } from "./longpoll.js";
export type { SessionStore } from "./fallback.js";
export { AUTH_TOKEN_PREFIX, CHANNEL_EVENTS, CHANNEL_STATES, DEFAULT_TIMEOUT, DEFAULT_VSN, SOCKET_STATES, WS_CLOSE_NORMAL } from "./constants.js";
export type { ChannelState } from "./constants.js";
export type {
  Decode,
  EncodedMessage,
  Encode,
  Logger,
  Message,
  OutgoingMessage,
  Params,
  ReplyPayload,
  SocketErrorCallback,
  Transport,
  TransportCloseEvent,
  TransportConstructor,
} from "./message.js";
