import { CodecError, type Frame, frameFromArray, isObjectPayload } from "./frame.js";

/**
 * V2 JSON text frames: `[join_ref, ref, topic, event, payload]`.
 * The same layout in both directions; extra trailing elements are ignored as Phoenix does.
 */
export function encodeJson(frame: Frame): string {
  return JSON.stringify([frame.joinRef, frame.ref, frame.topic, frame.event, frame.payload]);
}

export function decodeJson(text: string): Frame {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CodecError("frame is not valid JSON");
  }
  return frameFromArray(parsed, isObjectPayload);
}
