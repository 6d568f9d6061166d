import type { WebSocket } from "uWebSockets.js";
import { CodecError, EVENTS, SOCKET_TOPIC, type Frame } from "../../client/codec/frame.js";
import type { Serializer } from "../../client/codec/serializer.js";
import { Channel } from "../channel/channel.js";
import type { JoinParams } from "../channel/handler.js";
import type { Runtime } from "../runtime.js";
import { CLOSE } from "./close-codes.js";

/** What uWS keeps for each WebSocket. */
export interface SocketUserData {
  connection: SocketConnection;
}

/**
 * One client WebSocket: decodes frames once, routes them to its channels by topic, and is the
 * only writer of its bytes. Mirrors Phoenix.Socket's transport process (PROTOCOL.md §1.5–1.8).
 */
export class SocketConnection {
  ws: WebSocket<SocketUserData> | null = null;
  readonly channels = new Map<string, Channel>();
  private closed = false;

  constructor(
    readonly runtime: Runtime,
    readonly id: string,
    readonly serializer: Serializer,
    readonly assigns: Readonly<Record<string, unknown>>,
  ) {}

  get isOpen(): boolean {
    return !this.closed;
  }

  opened(ws: WebSocket<SocketUserData>): void {
    this.ws = ws;
  }

  /** An inbound WebSocket message; `data` is only valid during this call. */
  receive(data: ArrayBuffer, isBinary: boolean): void {
    let frame: Frame;
    try {
      const raw = isBinary ? new Uint8Array(data) : Buffer.from(data).toString("utf8");
      frame = this.serializer.decode(raw, "toServer");
    } catch (err) {
      const reason = err instanceof CodecError ? err.message : "undecodable frame";
      this.runtime.metrics.frameErrors.inc();
      this.runtime.log.debug({ socket: this.id, reason }, "closing socket on a bad frame");
      this.end(CLOSE.invalidFrame, `invalid frame: ${reason}`);
      return;
    }
    this.dispatch(frame);
  }

  send(frame: Frame): void {
    if (this.closed) return;
    this.runtime.outbox.send(this, this.serializer.encode(frame, "toClient"));
  }

  /** Close with a code and a short reason (at most 123 bytes by the WebSocket spec). */
  end(code: number, reason: string): void {
    if (this.closed || !this.ws) return;
    this.ws.end(code, Buffer.from(reason).subarray(0, 123).toString());
  }

  /** Close the TCP connection at once, without a close frame (the thread is going down). */
  abort(): void {
    if (this.closed || !this.ws) return;
    this.ws.close();
  }

  /** uWS reports the socket closed (by either side): end every channel and drop its presences. */
  onClose(): void {
    this.closed = true;
    this.ws = null;
    for (const channel of [...this.channels.values()]) channel.shutdown("closed");
    this.runtime.presence.untrackOwner(this.id);
  }

  /** Called by a channel that ended. */
  forget(channel: Channel): void {
    if (this.channels.get(channel.topic) === channel) this.channels.delete(channel.topic);
  }

  private dispatch(frame: Frame): void {
    if (frame.topic === SOCKET_TOPIC && frame.event === EVENTS.heartbeat) {
      this.replyOutside(frame, null, "ok", {});
      return;
    }
    const channel = this.channels.get(frame.topic);
    if (frame.event === EVENTS.join) {
      this.join(frame, channel);
      return;
    }
    if (!channel) {
      // Leaving a topic we are not in is fine; anything else there is an error (Phoenix).
      if (frame.event === EVENTS.leave) this.replyOutside(frame, frame.joinRef, "ok", {});
      else this.replyOutside(frame, null, "error", { reason: "unmatched topic" });
      return;
    }
    // A message for an earlier membership of this topic is stale: drop it silently.
    if (frame.joinRef !== null && frame.joinRef !== channel.joinRef) return;
    if (frame.event === EVENTS.leave) channel.leave(frame.ref);
    else channel.handleIn(frame);
  }

  private join(frame: Frame, existing: Channel | undefined): void {
    const handler = this.runtime.router.match(frame.topic);
    if (!handler) {
      this.runtime.log.warn({ topic: frame.topic, socket: this.id }, "ignoring unmatched topic");
      this.replyOutside(frame, null, "error", { reason: "unmatched topic" });
      return;
    }
    if (!existing && this.channels.size >= this.runtime.config.maxChannelsPerSocket) {
      this.replyOutside(frame, frame.joinRef, "error", { reason: "too many channels joined" });
      return;
    }
    // A second join of the same topic replaces the first; the old membership gets phx_close
    // after the new join's reply, which phoenix.js ignores as stale (PROTOCOL.md §1.7).
    let closeDuplicate = () => {};
    if (existing) {
      this.runtime.log.debug({ topic: frame.topic, socket: this.id }, "duplicate join: closing the existing channel");
      existing.shutdown("duplicate_join");
      closeDuplicate = () => existing.sendClose();
    }
    const joinRef = frame.joinRef ?? frame.ref ?? "";
    const channel = new Channel(this, this.runtime.fanout.intern(frame.topic), joinRef, handler);
    this.channels.set(frame.topic, channel);
    channel.join(frame.payload as JoinParams, frame.ref, closeDuplicate);
  }

  /** A reply that does not come from a channel (heartbeat, unmatched topic, limits). */
  private replyOutside(frame: Frame, joinRef: string | null, status: string, response: Record<string, unknown>): void {
    this.send({ joinRef, ref: frame.ref, topic: frame.topic, event: EVENTS.reply, payload: { status, response } });
  }
}
