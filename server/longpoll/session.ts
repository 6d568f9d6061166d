import type { RecognizedString } from "../uws-types.js";
import type { SocketConnection, SocketTransport } from "../socket/connection.js";
import { CLOSE } from "../socket/close-codes.js";
import type { LongPollTopics, TopicMember } from "./longpoll-topics.js";
import { pollBody, statusBody } from "./answers.js";

/** Where a poll's answer goes: the HTTP response (local) or the relay lane (another thread asked). */
export type Answer = (body: string) => void;

/** What a session needs of its thread. */
export interface SessionServices {
  topics: LongPollTopics;
  /** uWS's publish to the WebSockets of a topic (a broadcast_from by this session reaches them). */
  publishToWebSockets(topicKey: RecognizedString, message: RecognizedString, isBinary?: boolean): boolean;
  windowMs: number;
  maxBufferedBytes: number;
  /** A byte payload could not be sent (LongPoll carries JSON text only). */
  binarySkipped(): void;
  overflowed(): void;
  /** The session ended (any reason): the thread forgets it. */
  ended(session: LongPollSession): void;
}

interface WaitingPoll {
  answer: Answer;
  timer: NodeJS.Timeout;
}

/**
 * One LongPoll client: a SocketConnection (channels, limits, auth, presence: the same as a
 * WebSocket's) whose transport is this outbox. Frames wait here, up to maxBufferedBytes,
 * until the client's next poll takes them; a poll finding nothing waits up to the window.
 */
export class LongPollSession implements SocketTransport, TopicMember {
  private buffer: string[] = [];
  private bufferedBytes = 0;
  private waiting: WaitingPoll | null = null;
  private answerScheduled = false;
  private readonly topicKeys = new Set<string>();
  /** The first fragment of a two-fragment frame (a shared presence_state), until its last one. */
  private firstFragment: { text: string; binary: boolean } | null = null;
  /** When the last poll ended (or began, while one waits); the sweep ends a session idle for 1.5 windows. */
  lastPollAt = Date.now();
  /** Why it ended: a close code as a WebSocket would have had. */
  endedWith: number | null = null;

  constructor(
    readonly connection: SocketConnection,
    readonly token: string,
    private readonly services: SessionServices,
  ) {}

  get socket(): SocketConnection {
    return this.connection;
  }

  get isOpen(): boolean {
    return this.endedWith === null;
  }

  get polling(): boolean {
    return this.waiting !== null;
  }

  /** A GET with this session's token. A poll still waiting is stale (its client went on): it is answered 204. */
  poll(answer: Answer): () => void {
    this.lastPollAt = Date.now();
    if (this.waiting) this.answerWaiting(204);
    if (this.buffer.length > 0) {
      answer(this.take());
      return () => {};
    }
    const waiting: WaitingPoll = { answer, timer: setTimeout(() => this.waiting === waiting && this.answerWaiting(204), this.services.windowMs) };
    this.waiting = waiting;
    // The client went away: the frames stay buffered for its next poll.
    return () => {
      if (this.waiting !== waiting) return;
      clearTimeout(waiting.timer);
      this.waiting = null;
      this.lastPollAt = Date.now();
    };
  }

  /** A POST's lines, each handed to the connection in order; the status for the client. */
  post(lines: readonly string[], maxLineBytes: number): number {
    for (const line of lines) {
      if (!this.isOpen) break;
      if (line.length > maxLineBytes * 2) {
        this.connection.end(CLOSE.tooBig, "frame over maxPayloadLength");
        break;
      }
      if (line.startsWith("[")) {
        if (Buffer.byteLength(line) > maxLineBytes) {
          this.connection.end(CLOSE.tooBig, "frame over maxPayloadLength");
          break;
        }
        this.connection.receiveFrame(line);
        continue;
      }
      // Anything else is a binary frame in base64 (standard alphabet, as phoenix.js's btoa).
      if (!BASE64.test(line)) {
        this.connection.end(CLOSE.invalidFrame, "invalid frame: neither JSON nor base64");
        break;
      }
      const bytes = Buffer.from(line, "base64");
      if (bytes.byteLength > maxLineBytes) {
        this.connection.end(CLOSE.tooBig, "frame over maxPayloadLength");
        break;
      }
      this.connection.receiveFrame(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    }
    if (this.isOpen) return 200;
    if (this.endedWith === CLOSE.invalidFrame) return 400;
    if (this.endedWith === CLOSE.tooBig) return 413;
    if (this.endedWith === CLOSE.policy) return 429;
    return 410;
  }

  // ── SocketTransport: what the connection writes ──

  send(message: RecognizedString, isBinary?: boolean): number {
    if (!this.isOpen) return 0;
    if (isBinary || typeof message !== "string") {
      this.services.binarySkipped();
      return 1;
    }
    this.buffer.push(message);
    this.bufferedBytes += message.length;
    if (this.bufferedBytes > this.services.maxBufferedBytes) {
      this.services.overflowed();
      this.connection.end(CLOSE.slowConsumer, "longpoll buffer overflow");
      return 2;
    }
    if (this.waiting && !this.answerScheduled) {
      // Frames produced together (one publish queue flush, one POST) go in one answer.
      this.answerScheduled = true;
      queueMicrotask(() => {
        this.answerScheduled = false;
        if (this.waiting && this.buffer.length > 0) this.answerWaiting(200);
      });
    }
    return 1;
  }

  /** Nothing to batch: frames wait in the buffer until the next poll anyway. */
  cork(writes: () => void): void {
    writes();
  }

  /** A frame sent in two fragments is buffered as one message, as the client reads it. */
  sendFirstFragment(message: RecognizedString, isBinary?: boolean): boolean {
    this.firstFragment = { text: textOf(message), binary: isBinary === true };
    return true;
  }

  sendLastFragment(message: RecognizedString): boolean {
    const first = this.firstFragment;
    this.firstFragment = null;
    if (!first) return false;
    return this.send(first.text + textOf(message), first.binary) !== 2;
  }

  subscribe(topicKey: RecognizedString): boolean {
    const key = String(topicKey);
    this.topicKeys.add(key);
    this.services.topics.subscribe(key, this);
    return true;
  }

  unsubscribe(topicKey: RecognizedString): boolean {
    const key = String(topicKey);
    this.topicKeys.delete(key);
    this.services.topics.unsubscribe(key, this);
    return true;
  }

  /** broadcast_from: the WebSockets here; the queue then hands the publish to the other sessions. */
  publish(topicKey: RecognizedString, message: RecognizedString, isBinary?: boolean): boolean {
    return this.services.publishToWebSockets(topicKey, message, isBinary);
  }

  getBufferedAmount(): number {
    return this.bufferedBytes;
  }

  end(code = 1000): void {
    if (!this.isOpen) return;
    this.endedWith = code;
    for (const key of this.topicKeys) this.services.topics.unsubscribe(key, this);
    this.topicKeys.clear();
    this.connection.onClose();
    // A waiting poll gets what was left (the client learns the session is gone at its next poll), else 410 now.
    if (this.waiting) this.answerWaiting(this.buffer.length > 0 && code !== CLOSE.slowConsumer ? 200 : 410);
    this.buffer = [];
    this.bufferedBytes = 0;
    this.services.ended(this);
  }

  close(): void {
    this.end(CLOSE.goingAway);
  }

  /** Frames up to a quarter of maxBufferedBytes wait here at no cost: a presence catch-up may add more (SocketConnection.canTakeMore). */
  get lowWaterBytes(): number {
    return this.services.maxBufferedBytes / 4;
  }

  private take(): string {
    const body = pollBody(200, this.token, this.buffer);
    this.buffer = [];
    this.bufferedBytes = 0;
    // Taken by a poll: what waited on this session's outbox (a presence catch-up) may go on.
    this.connection.drained();
    return body;
  }

  private answerWaiting(status: 200 | 204 | 410): void {
    const waiting = this.waiting;
    if (!waiting) return;
    clearTimeout(waiting.timer);
    this.waiting = null;
    this.lastPollAt = Date.now();
    waiting.answer(status === 200 ? this.take() : status === 410 ? statusBody(410) : pollBody(204, this.token, []));
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A fragment's text: LongPoll carries JSON text, so bytes are read as UTF-8. */
function textOf(message: RecognizedString): string {
  if (typeof message === "string") return message;
  const view = ArrayBuffer.isView(message) ? message : new Uint8Array(message);
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString("utf8");
}
