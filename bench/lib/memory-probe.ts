/**
 * Loaded into a server process (`node --expose-gc --import <this module> …`) that was started with
 * an IPC channel: on each request it collects garbage and answers with the process's memory as
 * V8 and the OS see it, and, when asked, writes a heap snapshot. The connection-cost benchmark
 * samples servers through it at the load client's phases.
 */
import { memoryUsage } from "node:process";
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from "node:v8";

import type { MemoryProbeRequest, MemorySample, YoungSettle } from "./memory-sample.js";

const collect = (globalThis as { gc?: () => void }).gc;

function sample(snapshotPath: string | undefined): MemorySample {
  const rssBeforeGc = memoryUsage.rss();
  if (!collect) throw new Error("the memory probe needs node --expose-gc");
  // Twice: the first full collection can leave weakly held objects for the second.
  collect();
  collect();
  const usage = memoryUsage();
  const heap = getHeapStatistics();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, { used: space.space_used_size, physical: space.physical_space_size }]));
  const snapshot = snapshotPath === undefined ? undefined : writeHeapSnapshot(snapshotPath);
  return {
    rssBeforeGc,
    rss: usage.rss,
    heapUsed: heap.used_heap_size,
    heapPhysical: heap.total_physical_size,
    v8Malloced: heap.malloced_memory,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    spaces,
    snapshot,
  };
}

const youngPages = (): number => getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.physical_space_size ?? 0;

/** Waits, without collecting (a forced collection puts V8's memory reducer off), until the young generation is that small. */
async function settle({ youngAtMost, timeoutMs }: YoungSettle): Promise<{ settledAfterMs: number; settled: boolean }> {
  const start = Date.now();
  while (youngPages() > youngAtMost && Date.now() - start < timeoutMs) await new Promise((resolve) => setTimeout(resolve, 250));
  return { settledAfterMs: Date.now() - start, settled: youngPages() <= youngAtMost };
}

async function answer(request: MemoryProbeRequest): Promise<MemorySample> {
  const settled = request.settle && (await settle(request.settle));
  return { ...sample(request.snapshotPath), ...settled };
}

if (process.send) {
  process.on("message", (request: MemoryProbeRequest) => {
    if (request?.type !== "memory-sample") return;
    answer(request).then(
      (taken) => process.send?.({ type: "memory-sample", id: request.id, sample: taken }),
      (err: unknown) => process.send?.({ type: "memory-sample", id: request.id, error: (err as Error).message }),
    );
  });
  // The channel must not keep a server alive that is told to stop.
  process.channel?.unref();
}
