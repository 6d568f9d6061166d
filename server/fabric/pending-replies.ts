import { settleWithin } from "./settle-within.js";

interface Open<T, P> {
  waiting: Set<P>;
  answers: T[];
  done: () => void;
}

/**
 * Questions sent to several peers at once (an interest ack, a stats request, a question to
 * every node; peers are worker indexes or node names) and the replies
 * that come back. A question ends when every peer asked has replied or gone, or when its time
 * runs out; the answers that came are kept. At most one entry per question in flight.
 */
export class PendingReplies<T, P = number> {
  private nextId = 1;
  private readonly open = new Map<number, Open<T, P>>();

  ask(peers: Iterable<P>, timeoutMs: number, send: (id: number) => void): Promise<T[]> {
    const waiting = new Set(peers);
    if (waiting.size === 0) return Promise.resolve([]);
    const id = this.nextId++;
    const answers: T[] = [];
    const finished = new Promise<void>((done) => this.open.set(id, { waiting, answers, done }));
    send(id);
    return settleWithin(finished, timeoutMs).then(() => {
      this.open.delete(id);
      return answers;
    });
  }

  /** `from` replied to question `id` (with an answer, or just an ack). */
  reply(id: number, from: P, answer?: T): void {
    const open = this.open.get(id);
    if (!open || !open.waiting.delete(from)) return;
    if (answer !== undefined) open.answers.push(answer);
    if (open.waiting.size === 0) open.done();
  }

  /** A peer went away: nobody waits for it any more. */
  peerGone(peer: P): void {
    for (const open of this.open.values()) {
      if (open.waiting.delete(peer) && open.waiting.size === 0) open.done();
    }
  }

  /** Ends every question now, with what it has. */
  close(): void {
    for (const open of this.open.values()) open.done();
  }

  /** Questions in flight (bounded by the callers: one per join being routed, one per stats request). */
  get size(): number {
    return this.open.size;
  }
}
