/**
 * The LongPoll transport over a fake XMLHttpRequest, under fake timers: the handshake, polling,
 * the statuses the server answers, batched sends and close. Runs against our LongPoll and
 * phoenix.js's, except where noted.
 */
import * as phoenix from "phoenix";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import * as cinder from "../../client/index.js";
import { Ajax } from "../../client/ajax.js";
import { FakeXHR } from "./fake-xhr.js";

type LongPollClass = typeof cinder.LongPoll;

const longPolls: [string, LongPollClass][] = [
  ["cinder", cinder.LongPoll],
  ["phoenix", (phoenix as unknown as { LongPoll: LongPollClass }).LongPoll],
];

const ENDPOINT = "ws://example.test/socket/websocket?vsn=2.0.0";
const POLL_URL = "http://example.test/socket/longpoll?vsn=2.0.0";

beforeEach(() => {
  vi.useFakeTimers();
  FakeXHR.reset();
  vi.stubGlobal("XMLHttpRequest", FakeXHR);
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

/**
 * The session token a request carries: in the X-Phoenix-Longpoll-Token header (phoenix.js's
 * main branch and ours) or, from phoenix.js 1.8, in the `token` query param.
 */
function sessionToken(request: FakeXHR): string | null {
  return request.headers["X-Phoenix-Longpoll-Token"] ?? new URL(request.url).searchParams.get("token");
}

function handlers(longPoll: InstanceType<LongPollClass>) {
  const seen = { open: vi.fn(), error: vi.fn(), message: vi.fn(), close: vi.fn() };
  longPoll.onopen = seen.open;
  longPoll.onerror = seen.error;
  longPoll.onmessage = seen.message;
  longPoll.onclose = seen.close;
  return seen;
}

describe.each(longPolls)("%s LongPoll", (_name, LongPoll) => {
  /** A transport past its handshake, with session token "t1". */
  function opened() {
    const longPoll = new LongPoll(ENDPOINT, undefined);
    const seen = handlers(longPoll);
    vi.advanceTimersByTime(0);
    FakeXHR.only("GET").respond({ status: 410, token: "t1", messages: [] });
    return { longPoll, seen };
  }

  it("handshake: the first poll gets 410 and a session token, opens, and polls again with the token", () => {
    const longPoll = new LongPoll(ENDPOINT, undefined);
    const seen = handlers(longPoll);
    expect(longPoll.readyState).toBe(0);
    vi.advanceTimersByTime(0);
    const first = FakeXHR.only("GET");
    expect(first.url.startsWith(POLL_URL)).toBe(true);
    expect(first.headers).toEqual({ Accept: "application/json" });
    first.respond({ status: 410, token: "t1", messages: [] });
    expect(seen.open).toHaveBeenCalledTimes(1);
    expect(longPoll.readyState).toBe(1);
    expect(sessionToken(FakeXHR.only("GET"))).toBe("t1");
  });

  it("a 204 polls again; a 200 hands each message to onmessage in a task of its own, then polls again", () => {
    const { seen } = opened();
    FakeXHR.only("GET").respond({ status: 204, token: "t1" });
    const poll = FakeXHR.only("GET");
    poll.respond({ status: 200, token: "t1", messages: ["one", "two"] });
    expect(seen.message).not.toHaveBeenCalled();
    vi.advanceTimersByTime(0);
    expect(seen.message.mock.calls).toEqual([[{ data: "one" }], [{ data: "two" }]]);
    expect(FakeXHR.only("GET")).not.toBe(poll);
    expect(seen.error).not.toHaveBeenCalled();
  });

  it("a 410 once the session is open is an error and an unclean close (3410), so the socket reconnects", () => {
    const { seen } = opened();
    FakeXHR.only("GET").respond({ status: 410, token: "t2" });
    expect(seen.error).toHaveBeenCalledWith(410);
    expect(seen.close).toHaveBeenCalledWith(expect.objectContaining({ code: 3410, reason: "session_gone", wasClean: false }));
    expect(FakeXHR.pending()).toEqual([]);
  });

  it("a 403 is an error and a close (1008)", () => {
    const longPoll = new LongPoll(ENDPOINT, undefined);
    const seen = handlers(longPoll);
    vi.advanceTimersByTime(0);
    FakeXHR.only("GET").respond({ status: 403 });
    expect(seen.error).toHaveBeenCalledWith(403);
    expect(seen.close).toHaveBeenCalledWith(expect.objectContaining({ code: 1008, reason: "forbidden" }));
    expect(longPoll.readyState).toBe(3);
    expect(FakeXHR.pending()).toEqual([]);
  });

  it("sends of one tick go out as one ndjson POST; sends meanwhile wait for its answer, then go as the next", () => {
    const { longPoll } = opened();
    longPoll.send("a");
    longPoll.send("b");
    longPoll.send("c");
    expect(FakeXHR.pending().filter((r) => r.method === "POST")).toEqual([]);
    vi.advanceTimersByTime(0);
    const post = FakeXHR.only("POST");
    expect(post.url.startsWith(POLL_URL)).toBe(true);
    expect(post.body).toBe("a\nb\nc");
    expect(post.headers["Content-Type"]).toBe("application/x-ndjson");
    expect(sessionToken(post)).toBe("t1");
    longPoll.send("d");
    longPoll.send("e");
    vi.advanceTimersByTime(0);
    expect(FakeXHR.only("POST")).toBe(post);
    post.respond({ status: 200 });
    expect(FakeXHR.only("POST").body).toBe("d\ne");
  });

  it("splits a long batch into POSTs of at most 100 frames, in order", () => {
    const { longPoll } = opened();
    for (let i = 0; i < 150; i++) longPoll.send(`m${i}`);
    vi.advanceTimersByTime(0);
    const first = FakeXHR.only("POST");
    expect(first.body!.split("\n")).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
    first.respond({ status: 200 });
    expect(FakeXHR.only("POST").body!.split("\n")).toEqual(Array.from({ length: 50 }, (_, i) => `m${i + 100}`));
  });

  it("a POST the server refuses is an error and an unclean close", () => {
    const { longPoll, seen } = opened();
    longPoll.send("a");
    vi.advanceTimersByTime(0);
    FakeXHR.only("POST").respond({ status: 500 });
    expect(seen.error).toHaveBeenCalledWith(500);
    expect(seen.close).toHaveBeenCalledWith(expect.objectContaining({ code: 1011, wasClean: false }));
  });

  it("close() aborts the pending poll and reports the close", () => {
    const { longPoll, seen } = opened();
    const poll = FakeXHR.only("GET");
    longPoll.close();
    expect(poll.aborted).toBe(true);
    expect(longPoll.readyState).toBe(3);
    expect(seen.close).toHaveBeenCalledTimes(1);
  });

  it("sends the authToken of the subprotocol as X-Phoenix-AuthToken", () => {
    const longPoll = new LongPoll(ENDPOINT, ["phoenix", `${cinder.AUTH_TOKEN_PREFIX}${btoa("secret-token").replace(/=/g, "")}`]);
    handlers(longPoll);
    vi.advanceTimersByTime(0);
    expect(FakeXHR.only("GET").headers["X-Phoenix-AuthToken"]).toBe("secret-token");
  });
});

describe("cinder LongPoll", () => {
  it("sends the session token in a header, not in the URL, and closes with 1000 by default", () => {
    const longPoll = new cinder.LongPoll(ENDPOINT, undefined);
    const seen = handlers(longPoll);
    vi.advanceTimersByTime(0);
    FakeXHR.only("GET").respond({ status: 410, token: "t1" });
    const poll = FakeXHR.only("GET");
    expect(poll.url).toBe(POLL_URL);
    expect(poll.headers).toEqual({ Accept: "application/json", "X-Phoenix-Longpoll-Token": "t1" });
    longPoll.close();
    expect(seen.close).toHaveBeenCalledWith({ code: 1000, reason: undefined, wasClean: true });
  });

  it("a poll that times out is one error and one unclean close, and the transport stops polling", () => {
    const longPoll = new cinder.LongPoll(ENDPOINT, undefined);
    const seen = handlers(longPoll);
    vi.advanceTimersByTime(0);
    FakeXHR.only("GET").respond({ status: 410, token: "t1" });
    FakeXHR.only("GET").expire();
    expect(seen.error.mock.calls).toEqual([["timeout"]]);
    expect(seen.close).toHaveBeenCalledTimes(1);
    expect(seen.close).toHaveBeenCalledWith(expect.objectContaining({ code: 1005, wasClean: false }));
    expect(FakeXHR.pending()).toEqual([]);
  });

  it("answers that arrive after close() are ignored", () => {
    const longPoll = new cinder.LongPoll(ENDPOINT, undefined);
    const seen = handlers(longPoll);
    vi.advanceTimersByTime(0);
    const poll = FakeXHR.only("GET");
    longPoll.close();
    poll.respond({ status: 410, token: "t1" });
    expect(seen.open).not.toHaveBeenCalled();
    expect(FakeXHR.pending()).toEqual([]);
  });

  it("Ajax uses fetch where there is no XMLHttpRequest (Node, workers)", async () => {
    vi.useRealTimers();
    vi.stubGlobal("XMLHttpRequest", undefined);
    const fetch = vi.fn(async (_url: string, _init: RequestInit) => new Response(JSON.stringify({ status: 204, token: "t" })));
    vi.stubGlobal("fetch", fetch);
    const answer = await new Promise((resolve) => Ajax.request("GET", POLL_URL, { Accept: "application/json" }, null, 1000, null, resolve));
    expect(answer).toEqual({ status: 204, token: "t" });
    expect(fetch).toHaveBeenCalledWith(POLL_URL, expect.objectContaining({ method: "GET", headers: { Accept: "application/json" } }));
  });
});
