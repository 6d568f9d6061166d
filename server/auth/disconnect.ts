import type { Fabric } from "../fabric/fabric.js";
import type { EncodedBroadcast } from "../fabric/encoded-broadcast.js";
import { DISCONNECT_TOPIC } from "../fabric/internal-topics.js";
import type { Logger } from "../ops/logger.js";
import type { AuthMetrics } from "./auth-metrics.js";

/*
 * Force-disconnects travel on a reserved topic (DISCONNECT_TOPIC), as Phoenix's
 * `"users_socket:" <> id` broadcasts do, except that it is one topic for all ids: every thread
 * listens to it from the start (one Redis channel for the cluster, not one per user). Ordinary
 * broadcasts to it are refused (Broadcaster), so only this lane can say it.
 */
const EVENT = "disconnect";
/** Ids are names (`user:42`), never payloads; longer ones are refused. */
export const MAX_SOCKET_ID_LENGTH = 256;

/** A socket that can be closed by its id. */
export interface Disconnectable {
  disconnect(): void;
}

/**
 * Sockets by their id (`id` from the connect hook, or the token's `sub`), and the lane that
 * closes them everywhere: `disconnect(id)` closes this thread's sockets with that id and tells
 * every other thread (worker threads and nodes) through the fabric's broadcast lane. The index
 * holds open sockets only (one entry per socket that has an id), so it is bounded by the
 * sockets themselves; `cinder_socket_ids` counts its ids.
 */
export class DisconnectLane {
  private readonly byId = new Map<string, Set<Disconnectable>>();

  constructor(private readonly fabric: Fabric, private readonly metrics: AuthMetrics, private readonly log: Logger) {
    fabric.onBroadcast((message) => this.receive(message));
  }

  /** Every thread listens from the start; the interest lane routes the topic here from everywhere. */
  start(): void {
    void this.fabric.setInterest(DISCONNECT_TOPIC, true);
  }

  add(id: string, socket: Disconnectable): void {
    // An id disconnect() could never name is not indexed.
    if (id.length === 0 || id.length > MAX_SOCKET_ID_LENGTH) return;
    let sockets = this.byId.get(id);
    if (!sockets) {
      this.byId.set(id, (sockets = new Set()));
      this.metrics.socketIds.set(this.byId.size);
    }
    sockets.add(socket);
  }

  remove(id: string, socket: Disconnectable): void {
    const sockets = this.byId.get(id);
    if (!sockets?.delete(socket) || sockets.size > 0) return;
    this.byId.delete(id);
    this.metrics.socketIds.set(this.byId.size);
  }

  /** Closes every socket with this id in the cluster; returns how many were on this thread. */
  disconnect(id: string): number {
    if (typeof id !== "string" || id.length === 0 || id.length > MAX_SOCKET_ID_LENGTH) {
      throw new TypeError(`a socket id must be a string of 1 to ${MAX_SOCKET_ID_LENGTH} characters`);
    }
    const frame = JSON.stringify([null, null, DISCONNECT_TOPIC, EVENT, { id }]);
    this.fabric.publish({ topic: DISCONNECT_TOPIC, event: EVENT, frame });
    return this.closeLocal(id);
  }

  private closeLocal(id: string): number {
    const sockets = this.byId.get(id);
    if (!sockets) return 0;
    const closing = [...sockets];
    for (const socket of closing) socket.disconnect();
    this.metrics.forcedDisconnects.inc(closing.length);
    this.log.info({ id, sockets: closing.length }, "sockets disconnected by id");
    return closing.length;
  }

  private receive(message: EncodedBroadcast): void {
    if (message.topic !== DISCONNECT_TOPIC) return;
    const id = idOf(message);
    if (id === null) {
      this.log.warn("dropped a malformed disconnect from another replica");
      return;
    }
    this.closeLocal(id);
  }
}

function idOf(message: EncodedBroadcast): string | null {
  if (message.event !== EVENT || typeof message.frame !== "string" || message.frame.length > 6 * MAX_SOCKET_ID_LENGTH + 100) return null;
  try {
    const payload = (JSON.parse(message.frame) as unknown[])[4] as { id?: unknown };
    const id = payload?.id;
    return typeof id === "string" && id.length > 0 && id.length <= MAX_SOCKET_ID_LENGTH ? id : null;
  } catch {
    return null;
  }
}
