import { randomBytes } from "node:crypto";

/** The key under which a history topic's pushes carry their offset, inside the payload. */
export const OFFSET_KEY = "_o";
/** The key under which they carry the epoch their offset belongs to. */
export const EPOCH_KEY = "_e";

/**
 * The payload's JSON text with the offset and the epoch added as its last keys (so they win over
 * keys of the same names the app may have sent): `{"a":1}` → `{"a":1,"_o":7,"_e":"ijKm6HBL"}`.
 * An epoch is base64url (see `newEpoch`): it needs no escaping. The Redis script builds the same.
 */
export function withPosition(payloadJson: string, offset: number, epoch: string): string {
  const position = `"${OFFSET_KEY}":${offset},"${EPOCH_KEY}":"${epoch}"`;
  if (payloadJson === "{}") return `{${position}}`;
  return `${payloadJson.slice(0, -1)},${position}}`;
}

/** `[null,null,"topic","event",` — the V2 JSON frame up to its payload. */
export function framePrefix(topic: string, event: string): string {
  return `[null,null,${JSON.stringify(topic)},${JSON.stringify(event)},`;
}

/** The V2 JSON frame of a history broadcast, its offset and epoch inside the payload. */
export function historyFrame(topic: string, event: string, payloadJson: string, offset: number, epoch: string): string {
  return `${framePrefix(topic, event)}${withPosition(payloadJson, offset, epoch)}]`;
}

/** A fresh epoch: a history that starts (again) is told apart from every earlier one. Base64url. */
export function newEpoch(): string {
  return randomBytes(6).toString("base64url");
}
