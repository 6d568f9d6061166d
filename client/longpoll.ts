import { Ajax, type AjaxRequest, type AjaxResponse } from "./ajax.js";
import { AUTH_TOKEN_PREFIX, SOCKET_STATES } from "./constants.js";
import type { TransportCloseEvent } from "./message.js";
import { decodeToken } from "./token.js";

const noop = (): void => {};

/** Most messages one POST carries; more wait for the next one. */
export const MAX_LONGPOLL_BATCH_SIZE = 100;

/**
 * The LongPoll transport: a WebSocket look-alike over plain HTTP, for networks that block
 * WebSockets, speaking Phoenix's LongPoll protocol at `<socket path>/longpoll`. The first GET
 * answers 410 with a session token; from then on a GET is held open until messages arrive
 * (200), nothing did (204, poll again) or the session is gone (410: close, the socket
 * reconnects and rejoins). Sends made in one tick go out as one POST of newline-separated
 * frames, one POST at a time; sends made meanwhile wait for its answer.
 */
export class LongPoll {
  readyState: number = SOCKET_STATES.connecting;
  /** Per-request timeout (ms); the socket sets it from `longpollerTimeout`. */
  timeout = 20000;
  /** The session token the server handed out, sent with every request. */
  token: string | null = null;
  authToken: string | undefined;
  pollEndpoint: string;
  /** Every poll answer proves the connection alive, so the socket sends no heartbeats over it. */
  readonly skipHeartbeat = true;
  reqs = new Set<AjaxRequest>();
  currentBatch: string[] | null = null;
  currentBatchTimer: ReturnType<typeof setTimeout> | undefined;
  awaitingBatchAck = false;
  batchBuffer: string[] = [];
  onopen: (event?: unknown) => void = noop;
  onerror: (error: unknown) => void = noop;
  onmessage: (event: { data: string }) => void = noop;
  onclose: (event: TransportCloseEvent) => void = noop;

  constructor(endPoint: string, protocols?: string[] | null) {
    // The only subprotocol that matters here is the auth token, sent as a header instead.
    const tokenProtocol = protocols?.[1];
    if (tokenProtocol?.startsWith(AUTH_TOKEN_PREFIX)) this.authToken = decodeToken(tokenProtocol.slice(AUTH_TOKEN_PREFIX.length));
    this.pollEndpoint = endPoint.replace(/^ws/, "http").replace(/\/websocket(\?|$)/, "/longpoll$1");
    // The socket sets the handlers and the timeout right after construction: start after that.
    setTimeout(() => this.poll(), 0);
  }

  poll(): void {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (this.authToken) headers["X-Phoenix-AuthToken"] = this.authToken;
    this.ajax("GET", headers, null, (response) => {
      const status = response ? response.status : 0;
      if (response) {
        // A 410 once we hold a token: the server forgot our session, so its channels are gone too.
        if (status === 410 && this.token !== null) return this.fail(410, 3410, "session_gone");
        this.token = response.token ?? null;
      }
      if (status === 200) {
        // Each message in a task of its own, as WebSocket events are, so promise callbacks
        // started by one message run before the next one is handled.
        for (const data of response!.messages || []) setTimeout(() => this.onmessage({ data }), 0);
      } else if (status === 410) {
        this.readyState = SOCKET_STATES.open;
        this.onopen({});
      } else if (status === 403) {
        this.onerror(403);
        return this.close(1008, "forbidden", false);
      } else if (status !== 204) {
        return this.fail(500);
      }
      this.poll();
    });
  }

  /** Queues a frame; everything sent in this tick goes out in one POST. Bytes travel as base64. */
  send(body: string | ArrayBuffer | Uint8Array): void {
    let line = body as string;
    if (typeof body !== "string") {
      line = "";
      for (const byte of new Uint8Array(body)) line += String.fromCharCode(byte);
      line = btoa(line);
    }
    if (this.currentBatch) {
      this.currentBatch.push(line);
    } else if (this.awaitingBatchAck) {
      this.batchBuffer.push(line);
    } else {
      const batch = (this.currentBatch = [line]);
      this.currentBatchTimer = setTimeout(() => {
        this.currentBatch = null;
        this.batchSend(batch);
      }, 0);
    }
  }

  /** POSTs `messages` from `offset` on, at most MAX_LONGPOLL_BATCH_SIZE per request, then what queued meanwhile. */
  batchSend(messages: string[], offset = 0): void {
    this.awaitingBatchAck = true;
    const next = offset + MAX_LONGPOLL_BATCH_SIZE;
    this.ajax("POST", { "Content-Type": "application/x-ndjson" }, messages.slice(offset, next).join("\n"), (response) => {
      if (!response || response.status !== 200) {
        this.awaitingBatchAck = false;
        this.fail(response && response.status);
      } else if (next < messages.length) {
        this.batchSend(messages, next);
      } else if (this.batchBuffer.length) {
        const buffered = this.batchBuffer;
        this.batchBuffer = [];
        this.batchSend(buffered);
      } else {
        this.awaitingBatchAck = false;
      }
    });
  }

  /** Closes with an unclean close event (the socket reconnects) and stays usable for sends. */
  closeAndRetry(code: number, reason: string, wasClean: boolean): void {
    this.close(code, reason, wasClean);
    this.readyState = SOCKET_STATES.connecting;
  }

  ontimeout(): void {
    this.onerror("timeout");
    this.closeAndRetry(1005, "timeout", false);
  }

  private fail(error: unknown, code = 1011, reason = "internal server error"): void {
    this.onerror(error);
    this.closeAndRetry(code, reason, false);
  }

  close(code = 1000, reason?: string, wasClean = true): void {
    // Closed before aborting, so the aborted requests' answers are ignored.
    this.readyState = SOCKET_STATES.closed;
    for (const req of this.reqs) req.abort();
    this.reqs.clear();
    this.batchBuffer = [];
    this.awaitingBatchAck = false;
    clearTimeout(this.currentBatchTimer);
    this.currentBatch = null;
    this.onclose({ code, reason, wasClean });
  }

  private ajax(method: string, headers: Record<string, string>, body: string | null, callback: (response: AjaxResponse) => void): void {
    if (this.token !== null) headers["X-Phoenix-Longpoll-Token"] = this.token;
    let answered = false;
    let req: AjaxRequest | undefined;
    const settle = (): void => {
      answered = true;
      if (req) this.reqs.delete(req);
    };
    req = Ajax.request(
      method,
      this.pollEndpoint,
      headers,
      body,
      this.timeout,
      () => {
        settle();
        this.ontimeout();
      },
      (response) => {
        settle();
        // Connecting or open: a closed transport ignores answers that were on their way.
        if (this.readyState < SOCKET_STATES.closing) callback(response);
      },
    );
    // A request may answer before Ajax.request returns (test doubles do): keep only pending ones.
    if (req && !answered) this.reqs.add(req);
  }
}
