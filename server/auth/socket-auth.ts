import type { Authenticator } from "./auth-config.js";
import { topicAllowed, type Identity } from "./identity.js";
import { TokenExpiry } from "./token-expiry.js";

/** The event a socket's joined channels get before its token expires (docs/security.md). */
export const TOKEN_EXPIRING_EVENT = "token_expiring";
/** The event a client pushes on any joined channel with a fresh token: `{access_token: "…"}` (as Supabase Realtime). */
export const ACCESS_TOKEN_EVENT = "access_token";

/** What a socket's session needs of its connection. */
export interface AuthenticatedSocket {
  /** Pushes an event on every joined channel. */
  pushToJoined(event: string, payload: Record<string, unknown>): void;
  /** The token expired without a fresh one: close the socket. */
  closeExpired(): void;
}

/** The answer to an `access_token` push: a reply status and response. */
export type RefreshReply = { status: "ok" | "error"; response: Record<string, unknown> };

/**
 * The session of one socket that connected with a verified token: who it is, which topics its
 * token allows, and its expiry clock. At most one in-band refresh is verified at a time per
 * socket; others meanwhile are refused at once, so a client cannot pile up verifications.
 */
export class SocketAuth {
  private current: Identity;
  private refreshing = false;
  private stopped = false;
  private readonly expiry: TokenExpiry;

  constructor(
    private readonly authenticator: Authenticator,
    identity: Identity,
    private readonly socket: AuthenticatedSocket,
  ) {
    this.current = identity;
    this.expiry = new TokenExpiry(authenticator.expiryNoticeMs, {
      notice: (msLeft) => socket.pushToJoined(TOKEN_EXPIRING_EVENT, { expires_in_ms: msLeft }),
      expire: () => socket.closeExpired(),
    });
  }

  get identity(): Identity {
    return this.current;
  }

  /** Starts the clock once the socket is open. */
  start(): void {
    this.expiry.watch(this.current.expiresAt);
  }

  stop(): void {
    this.stopped = true;
    this.expiry.stop();
  }

  mayJoin(topic: string): boolean {
    return topicAllowed(this.current.channels, topic);
  }

  /** A channel finished joining: if the socket was already told, tell this channel too. */
  joined(push: (event: string, payload: Record<string, unknown>) => void): void {
    if (!this.expiry.noticeGiven || this.current.expiresAt === null) return;
    push(TOKEN_EXPIRING_EVENT, { expires_in_ms: Math.max(0, this.current.expiresAt - Date.now()) });
  }

  /**
   * Verifies a fresh token pushed in-band. It must be for the same user; on success the new
   * expiry and topic permissions apply (assigns stay as they are).
   */
  async refresh(payload: unknown): Promise<RefreshReply> {
    const token = typeof payload === "object" && payload !== null ? (payload as Record<string, unknown>).access_token : undefined;
    if (typeof token !== "string" || token.length === 0) return refused("access_token must be a non-empty string");
    if (this.refreshing) return refused("a token refresh is already in progress");
    this.refreshing = true;
    try {
      const outcome = await this.authenticator.verify(token);
      if (!outcome.ok) return refused(`${outcome.reason} token`);
      if (outcome.identity.userId !== this.current.userId) return refused("token is for another user");
      if (this.stopped) return refused("socket closed");
      this.current = outcome.identity;
      this.expiry.watch(outcome.identity.expiresAt);
      return { status: "ok", response: {} };
    } finally {
      this.refreshing = false;
    }
  }
}

function refused(reason: string): RefreshReply {
  return { status: "error", response: { reason } };
}
