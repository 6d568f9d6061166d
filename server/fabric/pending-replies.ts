import { settleWithin } from "./settle-within.js";

interface Open<T> {
  waiting: Set<number>;
  answers: T[];
  done: () => void;
}

/**
 * Questions sent to several peers at once (an interest ack, a stats request) and the replies
 * that come back. A question ends when every peer asked has replied or gone, or when its time
 * runs out; the answers that came are kept. At most one entry per question in flight.
 */
export class PendingReplies<T> {
  private nextId = 1;
  private readonly open = new Map<number, Open<T>>();

  ask(peers: Iterable<number>, timeoutMs: number, send: (id: number) => void): Promise<T[]> {
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
  reply(id: number, from: number, answer?: T): void {
    const open = this.open.get(id);
    if (!open || !open.waiting.delete(from)) return;
    if (answer !== undefined) open.answers.push(answer);
    if (open.waiting.size === 0) open.done();
  }

  /** A peer went away: nobody waits for it any more. */
  peerGone(peer: number): void {
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
