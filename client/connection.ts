import type { Channel } from "./channel.js";
import { SOCKET_STATES } from "./constants.js";
import type { Transport, TransportCloseEvent, TransportHandlers } from "./message.js";

/** What a Connection needs from its socket (Socket is one): which connection is current, and where transport events go. */
export interface ConnectionSocket {
  connection: Connection | null;
  onConnOpen(): void;
  onConnError(error: unknown): void;
  onConnMessage(event: { data: unknown }): void;
  onConnClose(event: TransportCloseEvent): void;
}

/**
 * One connection of the socket over one transport instance. Everything about it (the joins
 * sent over it, pings awaiting a reply, whether we closed it) lives here, so a connection
 * being replaced cannot disturb the next one: its transport events are handled only while it
 * is the socket's current connection.
 */
export class Connection {
  /** The join ref of each channel whose join went over this connection. */
  joins = new WeakMap<Channel, string | null>();
  /** Ping callbacks by ref; their replies can only come over this connection. */
  pings = new Map<string, () => void>();
  /** We closed it (rather than the server or the network). */
  closing = false;
  /** The socket no longer wants it, so connecting again makes a new one. */
  ended = false;
  /** Its channels were already errored once after it stopped being open. */
  channelsErrored = false;
  closeHandled = false;

  constructor(
    public socket: ConnectionSocket,
    public transport: Transport,
  ) {
    const handlers = transport as Transport & TransportHandlers;
    handlers.onopen = () => this.isCurrent() && socket.onConnOpen();
    handlers.onerror = (error) => this.isCurrent() && socket.onConnError(error);
    handlers.onmessage = (event) => this.isCurrent() && socket.onConnMessage(event);
    handlers.onclose = (event) => {
      if (this.isCurrent() && !this.closeHandled) {
        this.closeHandled = true;
        socket.onConnClose(event);
      }
    };
  }

  isCurrent(): boolean {
    return this.socket.connection === this;
  }

  isOpen(): boolean {
    return this.transport.readyState === SOCKET_STATES.open;
  }

  isConnecting(): boolean {
    return this.transport.readyState === SOCKET_STATES.connecting;
  }

  /** Whether the channel's current join was sent over this connection. */
  carried(channel: Channel, joinRef: string | null = channel.joinRef()): boolean {
    return this.joins.has(channel) && this.joins.get(channel) === joinRef;
  }

  close(code?: number, reason?: string): void {
    this.closing = true;
    // Closing a transport that is still connecting makes it report an error we caused ourselves.
    (this.transport as Transport & TransportHandlers).onerror = () => {};
    if (code) this.transport.close(code, reason || "");
    else this.transport.close();
  }
}
