/**
 * The kernel's counters that say a broadcast to many sockets met the machine's limits rather than
 * the server's: packets dropped by a core's input backlog (loopback hands every packet to the
 * sending core's backlog, at most `net.core.netdev_max_backlog` of them: a server writing to
 * thousands of sockets in one go overflows it), segments sent again (RetransSegs), retransmission
 * timeouts, time spent under TCP memory pressure (past `net.ipv4.tcp_mem`'s middle value the
 * kernel shrinks socket buffers and may drop what arrives), and segments dropped or pruned on the
 * receiving side; and, for a connection storm, connections the listen queues had no room for (a
 * server process that accepts too slowly: the client's TCP sends its SYN again after 1 s, then 3 s, 7 s).
 * Machine-wide counters from /proc/net/softnet_stat, /proc/net/snmp and
 * /proc/net/netstat; a figure for a phase is the difference of two samples. A dropped segment is
 * sent again only after a retransmission timeout (200 ms at least, doubling each time), so a few
 * drops make the last subscriber of a broadcast wait seconds while the CPUs idle.
 */
import { readFileSync } from "node:fs";

export interface TcpCounters {
  /** packets the cores' input backlogs dropped (/proc/net/softnet_stat, second column, all cores) */
  backlogDrops: number;
  /** segments sent again (Tcp RetransSegs) */
  retransmits: number;
  /** retransmission timeouts (TcpExt TCPTimeouts) */
  timeouts: number;
  /** times TCP entered memory pressure (TcpExt TCPMemoryPressures) */
  memoryPressures: number;
  /** milliseconds spent under memory pressure (TcpExt TCPMemoryPressuresChrono) */
  memoryPressureMs: number;
  /** segments dropped for a full receive queue (TcpExt TCPRcvQDrop) */
  receiveQueueDrops: number;
  /** receive queues pruned for memory (TcpExt PruneCalled) */
  prunes: number;
  /** connections completed while their listen queue was full (TcpExt ListenOverflows) */
  listenOverflows: number;
  /** connection requests dropped at a listening socket, the overflows included (TcpExt ListenDrops) */
  listenDrops: number;
  /** connection requests (SYNs) sent again for want of an answer (TcpExt TCPSynRetrans) */
  synRetransmits: number;
}

export const NO_TCP_COUNTERS: TcpCounters = { backlogDrops: 0, retransmits: 0, timeouts: 0, memoryPressures: 0, memoryPressureMs: 0, receiveQueueDrops: 0, prunes: 0, listenOverflows: 0, listenDrops: 0, synRetransmits: 0 };

/** The named fields of a /proc/net/{snmp,netstat} section: a header line and a value line, both prefixed `Section:`. */
function section(text: string, name: string): Map<string, number> {
  const lines = text.split("\n").filter((line) => line.startsWith(`${name}:`));
  const fields = new Map<string, number>();
  if (lines.length < 2) return fields;
  const keys = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1);
  keys.forEach((key, i) => fields.set(key, Number(values[i] ?? 0)));
  return fields;
}

/** Packets dropped by every core's input backlog (hexadecimal, one line per core). */
function backlogDrops(): number {
  const lines = readFileSync("/proc/net/softnet_stat", "utf8").trim().split("\n");
  return lines.reduce((sum, line) => sum + parseInt(line.split(/\s+/)[1] ?? "0", 16), 0);
}

export function sampleTcpCounters(): TcpCounters {
  const tcp = section(readFileSync("/proc/net/snmp", "utf8"), "Tcp");
  const ext = section(readFileSync("/proc/net/netstat", "utf8"), "TcpExt");
  return {
    backlogDrops: backlogDrops(),
    retransmits: tcp.get("RetransSegs") ?? 0,
    timeouts: ext.get("TCPTimeouts") ?? 0,
    memoryPressures: ext.get("TCPMemoryPressures") ?? 0,
    memoryPressureMs: ext.get("TCPMemoryPressuresChrono") ?? 0,
    receiveQueueDrops: ext.get("TCPRcvQDrop") ?? 0,
    prunes: ext.get("PruneCalled") ?? 0,
    listenOverflows: ext.get("ListenOverflows") ?? 0,
    listenDrops: ext.get("ListenDrops") ?? 0,
    synRetransmits: ext.get("TCPSynRetrans") ?? 0,
  };
}

/** What happened between two samples. */
export function tcpCountersBetween(from: TcpCounters | undefined, to: TcpCounters | undefined): TcpCounters {
  if (!from || !to) return NO_TCP_COUNTERS;
  return {
    backlogDrops: to.backlogDrops - from.backlogDrops,
    retransmits: to.retransmits - from.retransmits,
    timeouts: to.timeouts - from.timeouts,
    memoryPressures: to.memoryPressures - from.memoryPressures,
    memoryPressureMs: to.memoryPressureMs - from.memoryPressureMs,
    receiveQueueDrops: to.receiveQueueDrops - from.receiveQueueDrops,
    prunes: to.prunes - from.prunes,
    listenOverflows: to.listenOverflows - from.listenOverflows,
    listenDrops: to.listenDrops - from.listenDrops,
    synRetransmits: to.synRetransmits - from.synRetransmits,
  };
}

/** `net.core.netdev_max_backlog`: packets a core's input backlog holds before it drops. */
export function inputBacklogLimit(): number {
  return Number(readFileSync("/proc/sys/net/core/netdev_max_backlog", "utf8").trim());
}

/** `net.ipv4.tcp_mem` in bytes: below `low` no pressure; past `pressure` buffers shrink; `max` is the hard limit. */
export interface TcpMemoryLimits {
  low: number;
  pressure: number;
  max: number;
}

export function tcpMemoryLimits(): TcpMemoryLimits {
  const [low, pressure, max] = readFileSync("/proc/sys/net/ipv4/tcp_mem", "utf8").trim().split(/\s+/).map((pages) => Number(pages) * 4096);
  return { low, pressure, max };
}
