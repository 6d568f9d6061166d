import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Authenticator } from "../../server/auth/auth-config.js";
import type { AuthOutcome, Identity } from "../../server/auth/identity.js";
import { SocketAuth } from "../../server/auth/socket-auth.js";

// Fake clocks: the expiry logic alone, minutes and weeks in no time.
beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_700_000_000_000);
});
afterEach(() => vi.useRealTimers());

const identity = (userId: string, expiresAt: number | null, channels?: string[]): Identity => ({ userId, channels, meta: {}, expiresAt, scheme: "jwt", claims: {} });

function session(expiresAt: number | null, verify: (token: string | undefined) => AuthOutcome | Promise<AuthOutcome> = () => ({ ok: false, reason: "invalid", detail: "" })) {
  const told: number[] = [];
  let closed = 0;
  const authenticator: Authenticator = { expiryNoticeMs: 30_000, verify };
  const auth = new SocketAuth(authenticator, identity("u1", expiresAt), {
    pushToJoined: (_event, payload) => told.push(payload.expires_in_ms as number),
    closeExpired: () => closed++,
  });
  auth.start();
  return { auth, told, closed: () => closed };
}

describe("token expiry of a connected socket", () => {
  it("tells the socket noticeMs before expiry and closes it at expiry", () => {
    const { told, closed } = session(Date.now() + 60_000);
    vi.advanceTimersByTime(29_999);
    expect(told).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(told).toEqual([30_000]);
    vi.advanceTimersByTime(29_999);
    expect(closed()).toBe(0);
    vi.advanceTimersByTime(1);
    expect(closed()).toBe(1);
  });

  it("tells at once when less than noticeMs is left, and never closes a token without expiry", () => {
    const short = session(Date.now() + 10_000);
    expect(short.told).toEqual([10_000]);
    const forever = session(null);
    vi.advanceTimersByTime(365 * 86_400_000);
    expect(forever.told).toEqual([]);
    expect(forever.closed()).toBe(0);
  });

  it("waits past the 24.8-day limit of timers", () => {
    const { told, closed } = session(Date.now() + 40 * 86_400_000);
    vi.advanceTimersByTime(40 * 86_400_000 - 30_001);
    expect(told).toEqual([]);
    vi.advanceTimersByTime(30_001);
    expect(told).toHaveLength(1);
    expect(closed()).toBe(1);
  });

  it("a fresh token for the same user re-arms the clock and replaces the topic permissions", async () => {
    const fresh = (userId: string) => (): AuthOutcome => ({ ok: true, identity: identity(userId, Date.now() + 3_600_000, ["room:*"]) });
    const { auth, told, closed } = session(Date.now() + 60_000, fresh("u1"));
    vi.advanceTimersByTime(40_000);
    expect(told).toHaveLength(1);
    expect(auth.mayJoin("dm:1")).toBe(true);
    expect(await auth.refresh({ access_token: "t" })).toEqual({ status: "ok", response: {} });
    expect(auth.mayJoin("dm:1")).toBe(false);
    expect(auth.mayJoin("room:1")).toBe(true);
    const pushes: string[] = [];
    auth.joined((event) => pushes.push(event));
    expect(pushes).toEqual([]); // re-armed: a channel joined now is not told
    vi.advanceTimersByTime(3_600_000 - 40_000);
    expect(closed()).toBe(0);
    vi.advanceTimersByTime(40_000);
    expect(closed()).toBe(1);
  });

  it("refuses another user's token, a bad payload, and a second refresh while one is being verified", async () => {
    let release: (outcome: AuthOutcome) => void = () => {};
    const pending = new Promise<AuthOutcome>((resolve) => (release = resolve));
    const other = session(Date.now() + 60_000, () => ({ ok: true, identity: identity("u2", null) }));
    expect(await other.auth.refresh({ access_token: "t" })).toEqual({ status: "error", response: { reason: "token is for another user" } });
    expect(await other.auth.refresh({ token: "t" })).toEqual({ status: "error", response: { reason: "access_token must be a non-empty string" } });
    const slow = session(Date.now() + 60_000, () => pending);
    const first = slow.auth.refresh({ access_token: "t1" });
    expect(await slow.auth.refresh({ access_token: "t2" })).toEqual({ status: "error", response: { reason: "a token refresh is already in progress" } });
    release({ ok: false, reason: "expired", detail: "" });
    expect(await first).toEqual({ status: "error", response: { reason: "expired token" } });
    // A refused refresh leaves the old expiry in place.
    vi.advanceTimersByTime(60_000);
    expect(slow.closed()).toBe(1);
  });

  it("a channel joined after the notice is told too", () => {
    const { auth } = session(Date.now() + 20_000);
    vi.advanceTimersByTime(5_000);
    const pushes: Array<[string, unknown]> = [];
    auth.joined((event, payload) => pushes.push([event, payload]));
    expect(pushes).toEqual([["token_expiring", { expires_in_ms: 15_000 }]]);
  });
});
