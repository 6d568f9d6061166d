/**
 * What the tests of "behind, not gone" (docs/operations.md#behind-not-gone) share: the channels
 * they join, a slow reader (a raw client whose TCP socket is paused, then resumed), and a
 * broadcaster that goes on a turn at a time until something observable happens.
 */
import type { Socket } from "node:net";
import { ok, type ChannelHandler, type CinderServer } from "../../server/index.js";
import type { RawClient, RawFrame } from "./raw-client.js";
import { waitFor } from "./wait.js";
import { frame, openSession, poll, post } from "../longpoll/raw-longpoll.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const BODY = "x".repeat(8 * KiB);

/** The raw client's TCP socket: paused, it stops reading and the server's buffer for it grows. */
export const tcp = (client: RawClient) => (client.ws as unknown as { _socket: Socket })._socket;
export const turn = () => new Promise((r) => setImmediate(r));

export const history = (size: number): ChannelHandler => ({ history: { size, ttlMs: 60_000 }, join: () => ok() });
export const conflating: ChannelHandler = { join: () => ok(), conflate: (_event, payload) => String((payload as { key: unknown }).key) };
export const plain: ChannelHandler = { join: () => ok() };

/** The payloads of the frames of `event` the client got, in order. */
export const of = (client: RawClient, event: string) => client.frames.filter((f: RawFrame) => f[3] === event).map((f) => f[4] as Record<string, unknown>);

/** Broadcasts `make(i)` a turn at a time until `done` says so; returns how many were sent. */
export async function broadcastUntil(server: CinderServer, topic: string, from: number, make: (i: number) => Record<string, unknown>, done: () => Promise<boolean>, what: string): Promise<number> {
  let i = from;
  await waitFor(
    async () => {
      for (const end = i + 16; i < end; i++) server.broadcast(topic, "msg", make(i));
      await turn();
      return done();
    },
    what,
    30_000,
  );
  return i;
}

/** behindBytes at its default, and a hard cap far above it. */
export const settings = { behindBytes: 256 * KiB, maxBufferedBytes: 256 * MiB };

/** A LongPoll session joined to `topic`: `pollOnce` takes what its outbox holds into `frames`. */
export async function longPollSubscriber(port: number, topic: string): Promise<{ frames: unknown[][]; pollOnce: () => Promise<void> }> {
  const token = await openSession(port);
  await post(port, token, frame("1", "1", topic, "phx_join", {}));
  const frames: unknown[][] = [];
  const pollOnce = async () => {
    const { body } = await poll(port, token);
    if (body.status !== 200 && body.status !== 204) throw new Error(`poll answered ${JSON.stringify(body)}`);
    for (const message of body.messages ?? []) frames.push(JSON.parse(message) as unknown[]);
  };
  await waitFor(async () => (await pollOnce(), frames.some((f) => f[3] === "phx_reply")), "the join reply");
  return { frames, pollOnce };
}
