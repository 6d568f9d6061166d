/** What the memory probe (memory-probe.ts) is asked over IPC, and what it answers. */
import type { ChildProcess } from "node:child_process";

export interface MemoryProbeRequest {
  type: "memory-sample";
  id: number;
  /** Also write a heap snapshot there (after the sample's own numbers are taken). */
  snapshotPath?: string;
  /** First wait, up to `timeoutMs`, until V8 keeps at most `youngAtMost` bytes of young-generation pages (see YoungSettle). */
  settle?: YoungSettle;
}

/**
 * A wait for V8 to give back the young generation it grew: it does so by itself once the process
 * has allocated little for a while (its memory reducer, 15–40 s after the last busy moment), not
 * on a forced collection.
 */
export interface YoungSettle {
  youngAtMost: number;
  timeoutMs: number;
}

/** One process's memory after a full garbage collection, bytes. */
export interface MemorySample {
  /** RSS as found, before the collection. */
  rssBeforeGc: number;
  rss: number;
  /** Live objects on the V8 heap. */
  heapUsed: number;
  /** V8 heap pages resident in memory (what the heap adds to RSS). */
  heapPhysical: number;
  /** What V8 itself holds in malloc (its zones, remembered sets…): part of the native memory. */
  v8Malloced: number;
  /** Memory V8 is told about by native code, ArrayBuffers included. */
  external: number;
  arrayBuffers: number;
  /** Each V8 heap space (new_space, old_space, code_space, large_object_space…): live bytes and resident pages. */
  spaces: Record<string, { used: number; physical: number }>;
  /** The heap snapshot written, when one was asked for. */
  snapshot?: string;
  /** With a settle: how long the probe waited, and whether the young generation got that small. */
  settledAfterMs?: number;
  settled?: boolean;
}

interface MemoryProbeAnswer {
  type: "memory-sample";
  id: number;
  sample?: MemorySample;
  error?: string;
}

let nextId = 0;

/** Asks the probe in `child` for a sample. */
export function requestSample(child: ChildProcess, snapshotPath?: string, settle?: YoungSettle): Promise<MemorySample> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const onMessage = (answer: MemoryProbeAnswer): void => {
      if (answer?.type !== "memory-sample" || answer.id !== id) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (answer.sample) resolve(answer.sample);
      else reject(new Error(`memory probe: ${answer.error ?? "no sample"}`));
    };
    const onExit = (): void => {
      child.off("message", onMessage);
      reject(new Error("the server exited before its memory was sampled"));
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
    const request: MemoryProbeRequest = { type: "memory-sample", id, snapshotPath, settle };
    child.send(request);
  });
}
