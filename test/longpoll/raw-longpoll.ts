/** LongPoll over plain HTTP, as phoenix.js 1.9 speaks it (the session token in a header), for tests that need exact requests. */

export interface LongPollAnswer {
  status: number;
  token?: string;
  messages?: string[];
}

export interface RawResponse {
  httpStatus: number;
  headers: Headers;
  body: LongPollAnswer;
}

const url = (port: number, query: string) => `http://127.0.0.1:${port}/socket/longpoll?${query}`;

async function request(port: number, init: RequestInit, query = "vsn=2.0.0"): Promise<RawResponse> {
  const response = await fetch(url(port, query), init);
  return { httpStatus: response.status, headers: response.headers, body: (await response.json()) as LongPollAnswer };
}

/** The handshake: a GET without a token creates a session. */
export async function handshake(port: number, query = "vsn=2.0.0", headers: Record<string, string> = {}): Promise<RawResponse> {
  return request(port, { headers }, query);
}

/** A new session's token (the handshake must succeed). */
export async function openSession(port: number): Promise<string> {
  const { body } = await handshake(port);
  if (body.status !== 410 || !body.token) throw new Error(`handshake failed: ${JSON.stringify(body)}`);
  return body.token;
}

export function poll(port: number, token: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return request(port, { headers: { "x-phoenix-longpoll-token": token, ...headers } });
}

export function post(port: number, token: string, body: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return request(port, { method: "POST", body, headers: { "content-type": "application/x-ndjson", "x-phoenix-longpoll-token": token, ...headers } });
}

/** A V2 JSON frame as phoenix.js sends it. */
export function frame(joinRef: string | null, ref: string | null, topic: string, event: string, payload: unknown): string {
  return JSON.stringify([joinRef, ref, topic, event, payload]);
}

/** Polls until a frame matching `match` arrives; returns the decoded frames seen meanwhile. */
export async function pollUntil(port: number, token: string, match: (frame: unknown[]) => boolean, attempts = 20): Promise<unknown[][]> {
  const seen: unknown[][] = [];
  for (let i = 0; i < attempts; i++) {
    const { body } = await poll(port, token);
    if (body.status !== 200 && body.status !== 204) throw new Error(`poll answered ${JSON.stringify(body)}`);
    for (const message of body.messages ?? []) seen.push(JSON.parse(message) as unknown[]);
    if (seen.some(match)) return seen;
  }
  throw new Error(`no matching frame in ${attempts} polls: ${JSON.stringify(seen)}`);
}

