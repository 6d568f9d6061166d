import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU time of a process in nanoseconds: the sum of its threads' run time from
 * /proc/PID/task/TID/schedstat, which counts in nanoseconds where /proc/PID/stat counts in 10 ms
 * ticks (too coarse for a fraction of a second of CPU). Threads that ended are not counted.
 */
export function processCpuNanos(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return total;
}
