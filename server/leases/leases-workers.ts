import type { EncodedBroadcast } from "../fabric/encoded-broadcast.js";
import type { Fabric, Responder } from "../fabric/fabric.js";
import { runLeaseCall, type LeaseCall, type LeaseClaim, type LeaseRelease, type LeaseResult, type Leases, type LeaseView, type ReleaseOutcome, type StateWrite } from "./leases.js";

/** How long a worker waits for the main thread (which may wait for Redis) to answer a lease call. */
const LEASE_CALL_TIMEOUT_MS = 5000;
/** The lane a worker's lease calls go to the node's main thread on. */
export const LEASE_LANE = "lease";
/** The lane the main thread announces a released lease to its workers on (the topic). */
export const LEASE_FREE_LANE = "lease-free";

/** A worker's lease call, with the worker's index (a fenced broadcast that passes is sent on to its siblings, not back to it). */
interface WorkerLeaseCall {
  call: LeaseCall;
  from: number;
}

/** The main thread's answer: the call's result, or why it could not be carried out (Redis unreachable, a limit). */
type LeaseAnswer = { result: LeaseResult } | { error: string };

export interface WorkerLeasesOptions {
  /** The worker's fabric: every call is a question to the node's main thread. */
  fabric: Pick<Fabric, "ask" | "serve">;
  /** This worker's index on its node. */
  worker: number;
}

/**
 * The leases of a worker thread: every call goes to the node's main thread, which holds them
 * (in memory, or through its Redis connections). A fenced broadcast that passes is sent on by the
 * main thread to the node's other workers with interest; the caller delivers it here.
 */
export class WorkerLeases implements Leases {
  private readonly freeListeners: Array<(topic: string) => void> = [];

  constructor(private readonly options: WorkerLeasesOptions) {
    options.fabric.serve(LEASE_FREE_LANE, async (topic) => {
      for (const listener of this.freeListeners) listener(topic as string);
    });
  }

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

  /** Resolves at once: the main thread listens for announcements from the node's start (serveWorkerLeases) and passes them on. */
  onFree(listener: (topic: string) => void): Promise<void> {
    this.freeListeners.push(listener);
    return Promise.resolve();
  }

  private async call(call: LeaseCall): Promise<LeaseResult> {
    const question: WorkerLeaseCall = { call, from: this.options.worker };
    const [answer] = (await this.options.fabric.ask(LEASE_LANE, "main", question, LEASE_CALL_TIMEOUT_MS)) as LeaseAnswer[];
    if (answer === undefined) throw new Error(`lease ${call.op}: the node's main thread did not answer in ${LEASE_CALL_TIMEOUT_MS} ms`);
    if ("error" in answer) throw new Error(`lease ${call.op}: ${answer.error}`);
    return answer.result;
  }
}

/** What serveWorkerLeases needs of the node's main thread. */
export interface LeasesMainThread {
  serve(lane: string, responder: Responder): void;
  /** One-way, to every worker of the node. */
  tell(lane: string, to: "threads", message: unknown): void;
  /** Hands a broadcast to the node's workers with interest in its topic, but `except`. */
  deliver(message: EncodedBroadcast, except: number): void;
}

/**
 * The main thread's side of its workers' leases: their calls run on the node's `leases` (in
 * memory, or through Redis); a fenced broadcast that passed goes on to the node's other workers
 * with interest; a release anywhere is announced to every worker.
 */
export function serveWorkerLeases(main: LeasesMainThread, leases: Leases): void {
  void leases.onFree((topic) => main.tell(LEASE_FREE_LANE, "threads", topic));
  main.serve(LEASE_LANE, async (question) => {
    const { call, from } = question as WorkerLeaseCall;
    try {
      const result = await runLeaseCall(leases, call);
      if (call.op === "publish" && result === true) main.deliver(call.message, from);
      return { result } satisfies LeaseAnswer;
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) } satisfies LeaseAnswer;
    }
  });
}
