import { readFileSync } from "node:fs";

export interface ProcessSample {
  /** user + system CPU time of all threads, seconds */
  cpuSeconds: number;
  /** resident set size, bytes */
  rssBytes: number;
}

/** CLK_TCK is 100 on Linux builds in practice; /proc/PID/stat counts in those ticks. */
const TICKS_PER_SECOND = 100;
const PAGE_SIZE = 4096;

/** Reads /proc/PID/stat (utime, stime) and /proc/PID/statm (resident pages). */
export function sampleProcess(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const statm = readFileSync(`/proc/${pid}/statm`, "utf8").split(" ");
  return { cpuSeconds: (utime + stime) / TICKS_PER_SECOND, rssBytes: Number(statm[1]) * PAGE_SIZE };
}

export function trySampleProcess(pid: number): ProcessSample | undefined {
  try {
    return sampleProcess(pid);
  } catch {
    return undefined;
  }
}
