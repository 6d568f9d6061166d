import { randomBytes } from "node:crypto";

/** The key under which a history topic's pushes carry their offset, inside the payload. */
export const OFFSET_KEY = "_o";

/**
 * The payload's JSON text with the offset added as its last key (so it wins over a key of the
 * same name the app may have sent): `{"a":1}` → `{"a":1,"_o":7}`. The Redis script builds the same.
 */
export function withOffset(payloadJson: string, offset: number): string {
  if (payloadJson === "{}") return `{"${OFFSET_KEY}":${offset}}`;
  return `${payloadJson.slice(0, -1)},"${OFFSET_KEY}":${offset}}`;
}

/** `[null,null,"topic","event",` — the V2 JSON frame up to its payload. */
export function framePrefix(topic: string, event: string): string {
  return `[null,null,${JSON.stringify(topic)},${JSON.stringify(event)},`;
}

/** The V2 JSON frame of a history broadcast, its offset inside the payload. */
export function historyFrame(topic: string, event: string, payloadJson: string, offset: number): string {
  return `${framePrefix(topic, event)}${withOffset(payloadJson, offset)}]`;
}

/** A fresh epoch: a history that starts (again) is told apart from every earlier one. */
export function newEpoch(): string {
  return randomBytes(6).toString("base64url");
}
