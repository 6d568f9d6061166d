import { randomBytes } from "node:crypto";
import type { TemplatedApp } from "../uws-types.js";
import { jsonSerializer } from "../../client/codec/serializer.js";
import type { DisconnectLane } from "../auth/disconnect.js";
import type { RelayRequest, RelayResponse } from "./relay-lane.js";
import type { Logger } from "../ops/logger.js";
import type { LongPollMetrics } from "./longpoll-metrics.js";
import { SocketConnection, type SocketServices, type SocketSessionInit } from "../socket/connection.js";
import { socketSerial } from "../socket/socket-id.js";
import { statusBody, statusOf } from "./answers.js";
import { LongPollTopics } from "./longpoll-topics.js";
import { LongPollSession, type Answer, type SessionServices } from "./session.js";
import { type SessionRef, SessionTokens } from "./session-token.js";

export interface LongPollSessionsOptions {
  app: TemplatedApp;
  services: SocketServices;
  tokens: SessionTokens;
  /** This thread, as tokens name it. */
  self: { node: string; worker: number };
  windowMs: number;
  maxBufferedBytes: number;
  /** Largest inbound frame (maxPayloadLength). */
  maxFrameBytes: number;
  ids: Pick<DisconnectLane, "add" | "remove">;
  topics: LongPollTopics;
  metrics: LongPollMetrics;
  log: Logger;
}

/** A session with no poll for this many windows ends (its presences leave). */
export const IDLE_WINDOWS = 1.5;

/**
 * The LongPoll sessions this thread owns: created by a handshake, found by their token (from a
 * local request or one relayed by another thread), ended when idle for 1.5 windows.
 */
export class LongPollSessions {
  private readonly sessions = new Map<string, LongPollSession>();
  private nextId = 0;
  private readonly sessionServices: SessionServices;
  /** Runs while the thread has sessions: a thread without any has no timer. */
  private sweep: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: LongPollSessionsOptions) {
    const { app, metrics, windowMs, maxBufferedBytes, topics } = options;
    this.sessionServices = {
      topics,
      publishToWebSockets: (topicKey, message, isBinary) => app.publish(topicKey, message, isBinary),
      windowMs,
      maxBufferedBytes,
      binarySkipped: () => metrics.longPollBinarySkipped.inc(),
      overflowed: () => {
        metrics.longPollOverflows.inc();
        options.log.warn("longpoll session ended: its buffer between polls overflowed");
      },
      ended: (session) => this.forget(session),
    };
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Whether a token's session lives on this thread (else its request is relayed). */
  owns(ref: SessionRef): boolean {
    return ref.node === this.options.self.node && ref.worker === this.options.self.worker;
  }

  /** A new session, admitted by the handshake; its token is the handshake's answer. */
  create(assigns: Readonly<Record<string, unknown>>, session: SocketSessionInit): LongPollSession {
    const { services, tokens, self, ids, metrics, log } = this.options;
    const connection = new (SocketConnection.of(services))(socketSerial("longpoll", this.nextId++), jsonSerializer, assigns, session);
    const id = randomBytes(16).toString("base64url");
    const created = new LongPollSession(connection, tokens.sign({ ...self, id }), this.sessionServices);
    this.sessions.set(id, created);
    sessionIds.set(created, id);
    this.sweepWhileAny();
    connection.opened(created);
    if (connection.disconnectId !== undefined) ids.add(connection.disconnectId, connection);
    metrics.longPollSessions.inc();
    log.debug({ socket: connection.id }, "longpoll session opened");
    return created;
  }

  find(ref: SessionRef): LongPollSession | undefined {
    return this.sessions.get(ref.id);
  }

  /** A poll for `ref` (its token already verified); returns how to cancel it if the client goes away. */
  poll(ref: SessionRef, answer: Answer): () => void {
    const session = this.find(ref);
    if (!session) {
      answer(statusBody(410));
      return () => {};
    }
    return session.poll(answer);
  }

  /** A POST's lines for `ref`; the body of the answer. */
  post(ref: SessionRef, lines: readonly string[]): string {
    const session = this.find(ref);
    return statusBody(session ? session.post(lines, this.options.maxFrameBytes) : 410);
  }

  /** A request another thread relayed here: its token is checked again, and answered as a local one. */
  async answerRelayed(request: RelayRequest): Promise<RelayResponse | undefined> {
    const check = this.options.tokens.verify(request.token);
    if (!check.ok || !this.owns(check.ref)) return { body: statusBody(410) };
    const { ref } = check;
    const body = request.method === "POST" ? this.post(ref, request.lines ?? []) : await new Promise<string>((resolve) => this.poll(ref, resolve));
    this.options.metrics.longPollRequests.inc({ method: request.method, status: statusOf(body) });
    return { body };
  }

  /** Ends every session (the server stops); their next poll finds none and the clients reconnect elsewhere. */
  closeAll(): void {
    this.closed = true;
    this.stopSweep();
    for (const session of [...this.sessions.values()]) session.close();
  }

  /** One timer for the thread's sessions, a few times per idle period, started by the first. */
  private sweepWhileAny(): void {
    if (this.sweep || this.closed) return;
    const windowMs = this.options.windowMs;
    this.sweep = setInterval(() => this.endIdle(), Math.max(50, Math.min(1000, windowMs / 4)));
    this.sweep.unref();
  }

  private stopSweep(): void {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
  }

  private endIdle(): void {
    const idleSince = Date.now() - this.options.windowMs * IDLE_WINDOWS;
    for (const session of this.sessions.values()) {
      if (session.polling || session.lastPollAt > idleSince) continue;
      this.options.metrics.longPollTimeouts.inc();
      this.options.log.debug({ socket: session.connection.id }, "longpoll session ended: no poll for 1.5 windows");
      session.close();
    }
  }

  private forget(session: LongPollSession): void {
    const id = sessionIds.get(session);
    if (id === undefined || this.sessions.get(id) !== session) return;
    this.sessions.delete(id);
    if (this.sessions.size === 0) this.stopSweep();
    const { connection } = session;
    if (connection.disconnectId !== undefined) this.options.ids.remove(connection.disconnectId, connection);
    this.options.metrics.longPollSessions.dec();
    this.options.log.debug({ socket: connection.id, code: session.endedWith }, "longpoll session closed");
  }
}

/** Each session's key in its table (kept off the session, which never needs it). */
const sessionIds = new WeakMap<LongPollSession, string>();
