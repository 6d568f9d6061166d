/**
 * One client of a chaos run: the official phoenix.js Socket over `ws`, joined to its room
 * (`room:*` of the demo, presence on, recovering with README's recipe) and to the room's
 * `stats:` topic, following the room's presence with phoenix.js's Presence. It records into
 * the ledger every join reply, every joined stretch (segment) and what arrived in it, and the
 * replies to its own pushes.
 */
import { type Channel, Presence, Socket } from "phoenix";

import type { ClientRecord, JoinRecord, Ledger, Position, PushRecord, PushStatus, Recovery, Segment } from "./ledger.js";
import { joinRecovering, type RecoveringChannel } from "./recovery-recipe.js";
import { rotatingTransport } from "./rotating-transport.js";

export interface ClientPlan {
  readonly index: number;
  /** `room:<name>` */
  readonly room: string;
  /** `stats:<name>` */
  readonly stats: string;
  /** Index of the node its first connection goes to. */
  readonly home: number;
  /** Which way its reconnects go round the nodes (rotating-transport.ts). */
  readonly step: 1 | -1;
}

interface Meta {
  phx_ref?: string;
}

export class ChaosClient implements ClientRecord {
  readonly user: string;
  /** The node its current (or last) connection attempt went to. */
  node: number;
  readonly joins: JoinRecord[] = [];
  readonly segments: Segment[] = [];
  /** When each `stats` push arrived. */
  readonly statsAt: number[] = [];
  /** Messages that arrived while no segment was open (phoenix.js should never hand over one). */
  strays = 0;
  private open: Segment | undefined;
  /** Every message it received, in any segment. */
  private readonly seen = new Set<number>();
  private sentSince: Position | null = null;
  private sequence = 0;
  private readonly socket: Socket;
  private readonly room: RecoveringChannel;
  private readonly statsChannel: Channel;
  private readonly presence: Presence;

  constructor(
    readonly plan: ClientPlan,
    ports: readonly number[],
    private readonly ledger: Ledger,
  ) {
    this.user = `u${plan.index}`;
    this.node = plan.home;
    const transport = rotatingTransport(ports, plan.home, plan.step, (node) => (this.node = node));
    this.socket = new Socket(`ws://127.0.0.1:${ports[plan.home]}/socket`, { transport: transport as unknown as typeof globalThis.WebSocket });
    this.room = joinRecovering(this.socket, plan.room, { user: this.user }, {
      reloadState: () => {},
      joinSent: (params) => void (this.sentSince = (params._since as Position | undefined) ?? null),
    });
    const channel = this.room.channel;
    this.presence = new Presence(channel);
    channel.on("new_msg", (payload: { body?: unknown; _o?: unknown; _e?: unknown }) => this.received(payload));
    this.room.join
      .receive("ok", (response: { _recovery?: Recovery }) => this.joinReplied("ok", response._recovery))
      .receive("error", () => this.joinReplied("error"))
      .receive("timeout", () => this.joinReplied("timeout"));
    channel.onError(() => this.left());
    channel.onClose(() => this.left());
    this.statsChannel = this.socket.channel(plan.stats, {});
    this.statsChannel.on("stats", () => void this.statsAt.push(Date.now()));
    this.statsChannel.join();
  }

  connect(): void {
    this.socket.connect();
  }

  disconnect(): void {
    this.left();
    this.socket.disconnect();
  }

  get roomJoined(): boolean {
    return this.room.channel.state === "joined";
  }

  get statsJoined(): boolean {
    return this.statsChannel.state === "joined";
  }

  /** The segment open now, if the room channel is joined. */
  get current(): Segment | undefined {
    return this.open;
  }

  /** Whether it has received message `index` (of the ledger's pushes), in any segment. */
  has(index: number): boolean {
    return this.seen.has(index);
  }

  /** Pushes `new_msg` with a body no other push has, `<user>.<sequence>`. */
  push(): PushRecord {
    const record = this.ledger.addPush(`${this.user}.${++this.sequence}`, this.plan.room, this.plan.index);
    const settle = (status: PushStatus) => () => {
      record.status = status;
      record.repliedAt = Date.now();
    };
    this.room.channel
      .push("new_msg", { body: record.id })
      .receive("ok", settle("ok"))
      .receive("error", settle("error"))
      .receive("timeout", settle("timeout"));
    return record;
  }

  /** The phx_refs of this client's own metas in its room's list (where it is connected now). */
  ownRefs(): string[] {
    return this.listed().filter((entry) => entry.key === this.user).map((entry) => entry.ref);
  }

  /** Every phx_ref in its room's list, or undefined while the list waits for a new presence_state. */
  listedRefs(): Set<string> | undefined {
    if (this.presence.inPendingSyncState()) return undefined;
    return new Set(this.listed().map((entry) => entry.ref));
  }

  private listed(): Array<{ key: string; ref: string }> {
    return this.presence
      .list((key: string, presence: { metas: Meta[] }) => presence.metas.map((meta) => ({ key, ref: String(meta.phx_ref) })))
      .flat();
  }

  private joinReplied(status: PushStatus, recovery?: Recovery): void {
    const join: JoinRecord = { client: this.plan.index, at: Date.now(), since: this.sentSince, status, recovery, node: this.node };
    this.joins.push(join);
    if (status !== "ok") return;
    this.left();
    this.open = { join, start: join.at, messages: [], offsets: [], epochs: [], times: [] };
    this.segments.push(this.open);
  }

  private received(payload: { body?: unknown; _o?: unknown; _e?: unknown }): void {
    const segment = this.open;
    if (!segment) return void this.strays++;
    const message = this.ledger.messageOf(payload.body);
    this.seen.add(message);
    segment.messages.push(message);
    segment.offsets.push(typeof payload._o === "number" ? payload._o : -1);
    segment.epochs.push(typeof payload._e === "string" ? payload._e : undefined);
    segment.times.push(Date.now());
  }

  private left(): void {
    if (this.open) this.open.end = Date.now();
    this.open = undefined;
  }
}
