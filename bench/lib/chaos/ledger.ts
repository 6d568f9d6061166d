/**
 * What a chaos run records, as it happens, for the accounting afterwards (accounting.ts): every
 * push and its reply, every join reply and the `_since` it answered, every stretch a client's
 * room channel stayed joined (a segment) with what it received in it, what the topics' Redis
 * streams held, and what the processes did (error and warning lines, crashes). All times are
 * Date.now() of this process, which plays every client.
 */

/** A position in a history topic, as `_since` and `_recovery` carry it. */
export interface Position {
  o: number;
  e: string;
}

/** `_recovery` of a join reply. */
export interface Recovery extends Position {
  recovered: boolean;
}

export type PushStatus = "ok" | "error" | "timeout";

/** One `new_msg` pushed by a client; its body is its id, `<user>.<sequence>`. */
export interface PushRecord {
  readonly index: number;
  readonly id: string;
  readonly room: string;
  readonly pusher: number;
  readonly sentAt: number;
  repliedAt?: number;
  status?: PushStatus;
}

/** One reply to a room join: the first join or a rejoin (one that sent `_since`). */
export interface JoinRecord {
  readonly client: number;
  readonly at: number;
  /** The `_since` the join sent; null on a first join (or while the client had no position). */
  readonly since: Position | null;
  readonly status: PushStatus;
  readonly recovery?: Recovery;
  /** The node the client was connected to. */
  readonly node: number;
}

/**
 * One stretch during which a client's room channel was joined: from its join's ok reply until
 * the channel errored or closed (end undefined while it lasts). Deliveries are parallel arrays:
 * the message (index into the pushes; -1 for a body that is not one of the run's), its `_o`,
 * its `_e` when the payload carried one, and when it arrived.
 */
export interface Segment {
  readonly join: JoinRecord;
  readonly start: number;
  end?: number;
  readonly messages: number[];
  readonly offsets: number[];
  readonly epochs: Array<string | undefined>;
  readonly times: number[];
}

export interface LogLine {
  readonly at: number;
  readonly source: string;
  readonly level: "error" | "warn";
  readonly text: string;
}

/** A process that exited without being told to (or exited non-zero after SIGTERM). */
export interface Crash {
  readonly at: number;
  readonly source: string;
  readonly code: number | null;
  readonly signal: string | null;
}

/** What the accounting reads of a client: who it is and what it recorded. */
export interface ClientRecord {
  readonly plan: { readonly index: number; readonly room: string };
  readonly joins: readonly JoinRecord[];
  readonly segments: readonly Segment[];
  /** When each `stats` push arrived. */
  readonly statsAt: readonly number[];
}

/** One epoch of a topic's history as seen in Redis: offset → message (-1 for a body not of the run). */
export interface EpochLog {
  readonly epoch: string;
  readonly firstSeen: number;
  readonly entries: Map<number, number>;
}

/** Where Redis stored a message. */
export interface Stored {
  readonly epoch: string;
  readonly offset: number;
}

/** What Redis's streams held, as the accounting reads it. */
export interface StreamRecord {
  /** topic → its epochs, oldest first. */
  readonly epochs: ReadonlyMap<string, readonly EpochLog[]>;
  /** message → where Redis stored it. */
  readonly stored: ReadonlyMap<number, Stored>;
}

/** The run's pushes by id, and the processes' log lines and crashes. */
export class Ledger {
  readonly pushes: PushRecord[] = [];
  readonly lines: LogLine[] = [];
  readonly crashes: Crash[] = [];
  private readonly byId = new Map<string, number>();

  addPush(id: string, room: string, pusher: number, sentAt = Date.now()): PushRecord {
    const record: PushRecord = { index: this.pushes.length, id, room, pusher, sentAt };
    this.pushes.push(record);
    this.byId.set(id, record.index);
    return record;
  }

  /** The push a delivered body names, or -1. */
  messageOf(body: unknown): number {
    return typeof body === "string" ? (this.byId.get(body) ?? -1) : -1;
  }
}
