import type { EncodedBroadcast } from "../fabric/encoded-broadcast.js";
import { HUB, type MeshMessage } from "../fabric/mesh-messages.js";
import type { PeerMesh } from "../fabric/mesh.js";
import { PendingReplies } from "../fabric/pending-replies.js";
import type { LeaseCall, LeaseClaim, LeaseRelease, LeaseResult, Leases, LeaseView, ReleaseOutcome, StateWrite } from "./leases.js";

/** How long a worker waits for the main thread (which may wait for Redis) to answer a lease call. */
const LEASE_CALL_TIMEOUT_MS = 5000;

/**
 * The leases of a worker thread: every call goes to the node's main thread, which holds them
 * (in memory, or through its Redis link). A fenced broadcast that passes is sent on by the
 * main thread to the node's other workers with interest; the caller delivers it here.
 */
export class WorkerLeases implements Leases {
  private readonly calls = new PendingReplies<LeaseResult | LeaseCallError>();
  private readonly freeListeners: Array<(topic: string) => void> = [];

  constructor(private readonly mesh: PeerMesh) {}

  claim(claim: LeaseClaim): Promise<LeaseView> {
    return this.call({ op: "claim", claim }) as Promise<LeaseView>;
  }

  release(release: LeaseRelease): Promise<ReleaseOutcome> {
    return this.call({ op: "release", release }) as Promise<ReleaseOutcome>;
  }

  publish(token: string, message: EncodedBroadcast): Promise<boolean> {
    return this.call({ op: "publish", token, message }) as Promise<boolean>;
  }

  readState(topic: string, name: string): Promise<string | null> {
    return this.call({ op: "readState", topic, name }) as Promise<string | null>;
  }

  writeState(write: StateWrite): Promise<boolean> {
    return this.call({ op: "writeState", write }) as Promise<boolean>;
  }

  /** Resolves at once: the main thread listens for announcements from the node's start (NodeHub) and passes them on. */
  onFree(listener: (topic: string) => void): Promise<void> {
    this.freeListeners.push(listener);
    return Promise.resolve();
  }

  /** A lease message from the main thread. */
  receive(message: Extract<MeshMessage, { k: "leased" | "leaseFree" }>): void {
    if (message.k === "leaseFree") for (const listener of this.freeListeners) listener(message.topic);
    else this.calls.reply(message.id, HUB, message.error === undefined ? message.result : new LeaseCallError(message.error));
  }

  peerGone(peer: number): void {
    this.calls.peerGone(peer);
  }

  close(): void {
    this.calls.close();
  }

  private async call(call: LeaseCall): Promise<LeaseResult> {
    const [answer] = await this.calls.ask([HUB], LEASE_CALL_TIMEOUT_MS, (id) => this.mesh.post(HUB, { k: "lease", id, call }));
    if (answer === undefined) throw new Error(`lease ${call.op}: the node's main thread did not answer in ${LEASE_CALL_TIMEOUT_MS} ms`);
    if (answer instanceof LeaseCallError) throw new Error(`lease ${call.op}: ${answer.message}`);
    return answer;
  }
}

/** A call the main thread could not carry out (Redis unreachable, a limit), as the worker sees it. */
class LeaseCallError extends Error {}
