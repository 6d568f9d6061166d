/** A process and its descendants, from /proc/PID/task/TID/children (the native client forks its workers). */
import { readFileSync, readdirSync } from "node:fs";

export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${all[i]}/task`);
    } catch {
      continue; // it exited
    }
    for (const tid of tasks) {
      try {
        for (const child of readFileSync(`/proc/${all[i]}/task/${tid}/children`, "utf8").trim().split(/\s+/)) {
          if (child) all.push(Number(child));
        }
      } catch {
        // the thread exited while we looked
      }
    }
  }
  return all;
}

/** How many file descriptors a process holds (sockets, for a server). */
export function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}
