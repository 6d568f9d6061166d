/**
 * The clients of a chaos run and what they do together: connect, push at a steady rate, show
 * that the cluster has settled (a fence), and follow presence lists for ghosts.
 */
import { setTimeout as sleep } from "node:timers/promises";

import { ChaosClient } from "./chaos-client.js";
import type { Ledger, PushRecord } from "./ledger.js";

export interface FleetOptions {
  clients: number;
  rooms: number;
  /** The nodes' ports. */
  ports: readonly number[];
}

/** How often the traffic timer runs; each run sends what the rate owes since the start. */
const TRAFFIC_TICK_MS = 20;
/** How often a wait looks again at what the clients have. */
const POLL_MS = 25;

export class ClientFleet {
  readonly clients: ChaosClient[];
  readonly rooms: string[];
  private traffic: NodeJS.Timeout | undefined;

  constructor(
    options: FleetOptions,
    private readonly ledger: Ledger,
  ) {
    this.rooms = Array.from({ length: options.rooms }, (_, i) => `chaos${i}`);
    // Client i is in room i mod rooms. A room's members go round the nodes, so every room has
    // members on every node, and every other round goes the other way when it reconnects.
    const nodes = options.ports.length;
    this.clients = Array.from({ length: options.clients }, (_, index) => {
      const name = this.rooms[index % options.rooms];
      const member = Math.floor(index / options.rooms);
      const plan = { index, room: `room:${name}`, stats: `stats:${name}`, home: member % nodes, step: Math.floor(member / nodes) % 2 === 0 ? 1 : -1 } as const;
      return new ChaosClient(plan, options.ports, ledger);
    });
  }

  /** Connects the clients `batch` at a time, each batch joined (room and stats) before the next. */
  async connect(batch = 25, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let from = 0; from < this.clients.length; from += batch) {
      const group = this.clients.slice(from, from + batch);
      for (const client of group) client.connect();
      await until(() => group.every((c) => c.roomJoined && c.statsJoined), `clients ${from}…${from + group.length - 1} to join`, deadline);
    }
  }

  allJoined(): boolean {
    return this.clients.every((c) => c.roomJoined && c.statsJoined);
  }

  /** Pushes `rate` messages a second, each from a client picked at random among those joined to their room. */
  startTraffic(rate: number): void {
    this.stopTraffic();
    const started = Date.now();
    let sent = 0;
    this.traffic = setInterval(() => {
      const owed = Math.floor(((Date.now() - started) * rate) / 1000);
      // A stalled loop does not turn into a burst of more than a fifth of a second's worth.
      sent = Math.max(sent, owed - Math.ceil(rate / 5));
      const joined = this.clients.filter((c) => c.roomJoined);
      if (joined.length === 0) return;
      for (; sent < owed; sent++) joined[Math.floor(Math.random() * joined.length)].push();
    }, TRAFFIC_TICK_MS);
  }

  stopTraffic(): void {
    clearInterval(this.traffic);
    this.traffic = undefined;
  }

  /** Waits until every push has its reply (phoenix.js gives up on one after its timeout, 10 s). */
  async repliesIn(timeoutMs = 20_000): Promise<boolean> {
    return attempt(() => this.ledger.pushes.every((p) => p.status !== undefined), Date.now() + timeoutMs);
  }

  /** Pushes sent after `since` that have their reply. */
  answeredSince(since: number): number {
    let count = 0;
    for (let i = this.ledger.pushes.length - 1; i >= 0 && this.ledger.pushes[i].sentAt > since; i--) if (this.ledger.pushes[i].status) count++;
    return count;
  }

  /**
   * A fence: once every client is joined, one push per room, and a wait until every member of
   * the room has it (or joined after its reply). Messages of a room reach a node in order, so
   * after a fence whatever was sent before it has arrived or is lost. False on timeout.
   */
  async fence(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    if (!(await attempt(() => this.allJoined(), deadline))) return false;
    const fences = new Map<string, PushRecord | undefined>();
    for (const name of this.rooms) fences.set(`room:${name}`, this.clients.find((c) => c.plan.room === `room:${name}` && c.roomJoined)?.push());
    const all = [...fences.values()];
    if (!(await attempt(() => all.every((f) => f?.status !== undefined), deadline))) return false;
    if (all.some((f) => f?.status !== "ok")) return false;
    const reached = (client: ChaosClient) => {
      const fence = fences.get(client.plan.room) as PushRecord;
      return client.has(fence.index) || (client.current !== undefined && client.current.start > (fence.repliedAt as number));
    };
    return attempt(() => this.clients.every(reached), deadline);
  }

  /** The phx_refs under which the clients connected to `node` are listed now. */
  refsOn(node: number): string[] {
    return this.clients.filter((c) => c.node === node && c.roomJoined).flatMap((c) => c.ownRefs());
  }

  /**
   * Seconds from `from` until no joined client connected elsewhere than `node` lists any of
   * `refs` (a list waiting for its presence_state counts as still listing them); null after
   * `timeoutMs`.
   */
  async ghostsGone(refs: readonly string[], node: number, from: number, timeoutMs = 60_000): Promise<number | null> {
    const gone = () =>
      this.clients
        .filter((c) => c.node !== node && c.roomJoined)
        .every((c) => {
          const listed = c.listedRefs();
          return listed !== undefined && refs.every((ref) => !listed.has(ref));
        });
    return (await attempt(gone, from + timeoutMs)) ? (Date.now() - from) / 1000 : null;
  }

  disconnect(): void {
    this.stopTraffic();
    for (const client of this.clients) client.disconnect();
  }
}

/** Polls `check` until true (resolves true) or `deadline` (resolves false). */
async function attempt(check: () => boolean, deadline: number): Promise<boolean> {
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(POLL_MS);
  }
}

async function until(check: () => boolean, what: string, deadline: number): Promise<void> {
  if (!(await attempt(check, deadline))) throw new Error(`timed out waiting for ${what}`);
}
