import type { MessagePort } from "node:worker_threads";

/** Main thread → worker, on the worker's parent port. */
export type ControlMessage =
  | { k: "peerUp"; index: number; port: MessagePort }
  | { k: "peerDown"; index: number }
  | { k: "drain" };

/** Worker → main thread. */
export type WorkerReport =
  | { k: "listening"; port: number }
  | { k: "failed"; error: string; /** Set when the port could not be listened on (a ListenError). */ listen?: { code: string | undefined } }
  | { k: "crashed"; error: string };
