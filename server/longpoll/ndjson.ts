/** phoenix.js never sends more lines in one POST (its batches are this size). */
export const MAX_POST_LINES = 100;

export type PostLines = { ok: true; lines: string[] } | { ok: false; status: 400; reason: string };

/**
 * A POST body as frames: `application/x-ndjson` is one frame per line (`\n` or `\r\n`), a line
 * starting with `[` a V2 JSON frame, any other line a binary frame in base64; any other
 * content type is one text frame (Phoenix's LongPoll reads it so). Empty lines are skipped.
 */
export function postLines(body: string, contentType: string): PostLines {
  if (!contentType.toLowerCase().startsWith("application/x-ndjson")) return body.length > 0 ? { ok: true, lines: [body] } : { ok: true, lines: [] };
  const lines: string[] = [];
  for (const line of body.split(/\r?\n/)) {
    if (line.length === 0) continue;
    if (lines.length === MAX_POST_LINES) return { ok: false, status: 400, reason: `more than ${MAX_POST_LINES} lines` };
    lines.push(line);
  }
  return { ok: true, lines };
}
