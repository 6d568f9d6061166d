import type { OutgoingMessage, ReplyPayload } from "./message.js";

/** The statuses a push can receive: the server's reply status ("ok", "error", or another) or "timeout". */
export type PushStatus = "ok" | "error" | "timeout" | (string & {});

/** What a Push needs from the socket of its channel (Socket is one). */
export interface PushSocket<C> {
  /** The channel of each message a Push sends, so the socket can drop it once its join is outdated. */
  pushedBy: WeakMap<OutgoingMessage, C>;
  push(data: OutgoingMessage): void;
  makeRef(): string;
}

/** What a Push needs from its channel (Channel is one): the topic, the join and the reply events. */
export interface PushChannel {
  topic: string;
  socket: PushSocket<PushChannel>;
  joinRef(): string | null;
  replyEventName(ref?: string | null): string;
  on<P>(event: string, callback: (payload: P) => void): number;
  off(event: string, ref?: number): void;
  trigger(event: string, payload?: unknown): void;
}

interface ReceiveHook {
  status: string;
  callback: (response: unknown) => void;
}

/**
 * One message sent on a channel, and its reply. A push gets a fresh ref each time it is
 * (re)sent; the reply arrives as the channel event `chan_reply_<ref>`, and a timer turns a
 * missing reply into the status "timeout".
 */
export class Push {
  payload: () => object;
  receivedResp: ReplyPayload | null = null;
  timeoutTimer: ReturnType<typeof setTimeout> | null = null;
  recHooks: ReceiveHook[] = [];
  sent = false;
  ref: string | null = null;
  refEvent: string | null = null;

  constructor(
    public channel: PushChannel,
    public event: string,
    payload: (() => object) | undefined,
    public timeout: number,
  ) {
    this.payload = payload || (() => ({}));
  }

  resend(timeout: number): void {
    this.timeout = timeout;
    this.reset();
    this.send();
  }

  send(): void {
    // A push that already timed out while buffered stays dead.
    if (this.hasReceived("timeout")) return;
    this.startTimeout();
    this.sent = true;
    const { channel } = this;
    const message = { topic: channel.topic, event: this.event, payload: this.payload(), ref: this.ref, join_ref: channel.joinRef() };
    channel.socket.pushedBy.set(message, channel);
    channel.socket.push(message);
  }

  /** Calls `callback` with the response when `status` arrives (at once if it already has). Chainable. */
  receive<R = unknown>(status: PushStatus, callback: (response: R) => void): this {
    if (this.hasReceived(status)) callback(this.receivedResp!.response as R);
    this.recHooks.push({ status, callback: callback as (response: unknown) => void });
    return this;
  }

  reset(): void {
    this.cancelRefEvent();
    this.ref = null;
    this.refEvent = null;
    this.receivedResp = null;
    this.sent = false;
  }

  matchReceive({ status, response }: ReplyPayload): void {
    for (const hook of this.recHooks.filter((h) => h.status === status)) hook.callback(response);
  }

  cancelRefEvent(): void {
    if (this.refEvent) this.channel.off(this.refEvent);
  }

  cancelTimeout(): void {
    clearTimeout(this.timeoutTimer ?? undefined);
    this.timeoutTimer = null;
  }

  /** Takes a new ref, listens for its reply and starts the timeout clock (it runs while buffered too). */
  startTimeout(): void {
    if (this.timeoutTimer) this.cancelTimeout();
    this.cancelRefEvent();
    this.ref = this.channel.socket.makeRef();
    this.refEvent = this.channel.replyEventName(this.ref);
    this.channel.on<ReplyPayload>(this.refEvent, (payload) => {
      this.cancelRefEvent();
      this.cancelTimeout();
      this.receivedResp = payload;
      this.matchReceive(payload);
    });
    this.timeoutTimer = setTimeout(() => this.trigger("timeout", {}), this.timeout);
  }

  hasReceived(status: string): boolean {
    return this.receivedResp?.status === status;
  }

  trigger(status: string, response: unknown): void {
    if (this.refEvent) this.channel.trigger(this.refEvent, { status, response });
  }
}
