/**
 * Stops a large benchmark before it takes the machine's last memory: polls MemAvailable and,
 * once it falls below a floor, aborts (the run's owner stops its processes and says why).
 * Others work on the same machine; the OOM killer would pick a process of theirs as readily.
 */
import { meminfoBytes } from "./kernel-memory.js";

export interface MemoryGuard {
  /** aborted with a MemoryLowError once MemAvailable fell below the floor */
  readonly signal: AbortSignal;
  /** the lowest MemAvailable seen, bytes */
  readonly lowestAvailable: number;
  stop(): void;
}

export class MemoryLowError extends Error {
  constructor(
    readonly availableBytes: number,
    readonly floorBytes: number,
  ) {
    super(`MemAvailable fell to ${gib(availableBytes)} GiB, below the guard's ${gib(floorBytes)} GiB`);
  }
}

const gib = (bytes: number): string => (bytes / 2 ** 30).toFixed(2);

export function startMemoryGuard(floorBytes: number, intervalMs = 250): MemoryGuard {
  const controller = new AbortController();
  let lowest = Number.POSITIVE_INFINITY;
  const check = (): void => {
    const available = meminfoBytes("MemAvailable");
    lowest = Math.min(lowest, available);
    if (available < floorBytes && !controller.signal.aborted) controller.abort(new MemoryLowError(available, floorBytes));
  };
  check();
  const timer = setInterval(check, intervalMs);
  timer.unref();
  return {
    signal: controller.signal,
    get lowestAvailable() {
      return lowest;
    },
    stop: () => clearInterval(timer),
  };
}
