import type { Payload } from "../pubsub/payload.js";

export type { Payload };

/** A `phx_reply` to a join or a push: status "ok", "error", or any other word. */
export interface Reply {
  readonly kind: "reply";
  readonly status: string;
  readonly response: Payload;
}

/** Close the channel after an optional reply (the client gets `phx_close`). */
export interface Stop {
  readonly kind: "stop";
  readonly reason: string;
  readonly reply?: Reply;
}

/** Nothing goes back now; the handler may answer later with `socket.reply(ref, …)`. */
export interface NoReply {
  readonly kind: "noreply";
}

export type JoinResult = Reply;
export type HandleInResult = Reply | Stop | NoReply | void;

export function ok(response: Payload = {}): Reply {
  return { kind: "reply", status: "ok", response };
}

export function error(response: Payload = {}): Reply {
  return { kind: "reply", status: "error", response };
}

export function reply(status: string, response: Payload = {}): Reply {
  return { kind: "reply", status, response };
}

export function noReply(): NoReply {
  return { kind: "noreply" };
}

export function stop(reason = "normal", finalReply?: Reply): Stop {
  return { kind: "stop", reason, reply: finalReply };
}

export function isReply(value: unknown): value is Reply {
  return typeof value === "object" && value !== null && (value as Reply).kind === "reply";
}
