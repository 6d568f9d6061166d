/**
 * A phoenix heartbeat recognised by its text, without JSON.parse: phoenix.js sends
 * `[null,"<ref>","phoenix","heartbeat",{}]` every 30 s per socket, so at many sockets decoding
 * them (string internalization, the frame's objects) and encoding their replies is a good part of
 * an idle server's work. Only that exact text is recognised (no whitespace, a null join_ref, a
 * null ref or a ref of printable ASCII without `"` or `\`, which JSON reads and writes verbatim);
 * anything else is decoded as any frame. The reply is the text the JSON serializer makes of the
 * normal reply.
 */
const HEAD = '[null,"';
const TAIL = '","phoenix","heartbeat",{}]';
const WITH_NULL_REF = '[null,null,"phoenix","heartbeat",{}]';

/** The ref of a heartbeat in exactly phoenix.js's form: a string, null, or undefined when `text` is not one. */
export function heartbeatRef(text: string): string | null | undefined {
  if (text === WITH_NULL_REF) return null;
  const end = text.length - TAIL.length;
  if (end < HEAD.length || !text.startsWith(HEAD) || !text.endsWith(TAIL)) return undefined;
  for (let i = HEAD.length; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return undefined;
  }
  return text.slice(HEAD.length, end);
}

/** `[null,<ref>,"phoenix","phx_reply",{"status":"ok","response":{}}]`, as encodeJson writes it. */
export function heartbeatReplyText(ref: string | null): string {
  return `[null,${ref === null ? "null" : `"${ref}"`},"phoenix","phx_reply",{"status":"ok","response":{}}]`;
}
