/**
 * What the kernel holds for sockets, machine-wide: /proc/meminfo (Slab: socket structures,
 * among other caches; MemAvailable: what is left for everyone) and /proc/net/sockstat (TCP
 * sockets in use and the pages of their buffers). Loopback means both ends of every connection
 * are on this machine, so a figure per connection counts the pair.
 */
import { readFileSync } from "node:fs";

export interface KernelMemorySample {
  slabBytes: number;
  memAvailableBytes: number;
  /** TCP sockets in use (both ends of a loopback connection count) */
  tcpInUse: number;
  /** the TCP sockets' buffer memory, sockstat's "mem" (pages) in bytes */
  tcpBufferBytes: number;
}

const PAGE_SIZE = 4096;

/** A field of /proc/meminfo in bytes (it reports kB). */
export function meminfoBytes(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/meminfo", "utf8"));
  if (!m) throw new Error(`no ${field} in /proc/meminfo`);
  return Number(m[1]) * 1024;
}

export function sampleKernelMemory(): KernelMemorySample {
  const tcp = /^TCP: inuse (\d+) orphan \d+ tw \d+ alloc \d+ mem (\d+)/m.exec(readFileSync("/proc/net/sockstat", "utf8"));
  return {
    slabBytes: meminfoBytes("Slab"),
    memAvailableBytes: meminfoBytes("MemAvailable"),
    tcpInUse: tcp ? Number(tcp[1]) : 0,
    tcpBufferBytes: tcp ? Number(tcp[2]) * PAGE_SIZE : 0,
  };
}

export interface KernelMemoryPeaks {
  slabBytes: number;
  tcpBufferBytes: number;
  /** the lowest MemAvailable seen */
  memAvailableBytes: number;
}

/**
 * Samples the kernel's memory every `intervalMs` and keeps the peaks: TCP buffers swell while a
 * broadcast is on its way to a million sockets, between the phases a run samples at.
 */
export function watchKernelMemory(intervalMs = 500): { peaks(): KernelMemoryPeaks; stop(): void } {
  const first = sampleKernelMemory();
  const peaks: KernelMemoryPeaks = { slabBytes: first.slabBytes, tcpBufferBytes: first.tcpBufferBytes, memAvailableBytes: first.memAvailableBytes };
  const timer = setInterval(() => {
    const s = sampleKernelMemory();
    peaks.slabBytes = Math.max(peaks.slabBytes, s.slabBytes);
    peaks.tcpBufferBytes = Math.max(peaks.tcpBufferBytes, s.tcpBufferBytes);
    peaks.memAvailableBytes = Math.min(peaks.memAvailableBytes, s.memAvailableBytes);
  }, intervalMs);
  timer.unref();
  return { peaks: () => ({ ...peaks }), stop: () => clearInterval(timer) };
}
