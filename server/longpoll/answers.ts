/*
 * The JSON bodies of LongPoll answers. Every answer is HTTP 200; the status phoenix.js acts on
 * is in the body (Phoenix's LongPoll does the same): 200 messages, 204 nothing in the window,
 * 410 a new session's token (the handshake) or a session that is gone, 403 a refused connect.
 */

/** A poll's answer: `messages` are V2 JSON frames, as text. */
export function pollBody(status: number, token: string, messages: readonly string[]): string {
  return JSON.stringify({ status, token, messages });
}

/** An answer with a status only (a POST's, or a session that is gone). */
export function statusBody(status: number): string {
  return `{"status":${status}}`;
}

/** The status an answer's body carries (for the metric), without parsing the messages. */
export function statusOf(body: string): number {
  const match = /^\{"status":(\d+)/.exec(body);
  return match ? Number(match[1]) : 0;
}
