/**
 * Which server process holds each of some client connections: through /proc/net/tcp (the
 * server side of a connection, by its peer address, gives an inode) and /proc/<pid>/fd (which
 * process has that inode open). For sampling clients per node when several nodes share a port.
 */
import { readFileSync, readdirSync, readlinkSync } from "node:fs";

export interface Endpoint {
  ip: string;
  port: number;
}

/** "127.0.0.5", 4000 → "0500007F:0FA0", as /proc/net/tcp writes an IPv4 address. */
function procAddress({ ip, port }: Endpoint): string {
  const hexIp = ip
    .split(".")
    .reverse()
    .map((part) => Number(part).toString(16).toUpperCase().padStart(2, "0"))
    .join("");
  return `${hexIp}:${port.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** For each endpoint (a client's address), the pid among `pids` holding its connection to `serverPort`; undefined when not found. */
export function ownersOf(serverPort: number, endpoints: readonly Endpoint[], pids: readonly number[]): Array<number | undefined> {
  const local = `:${serverPort.toString(16).toUpperCase().padStart(4, "0")}`;
  const inodeOfPeer = new Map<string, string>();
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // local_address is field 1, rem_address field 2, inode field 9.
    if (f.length > 9 && f[1].endsWith(local)) inodeOfPeer.set(f[2], f[9]);
  }
  const ownerOfInode = new Map<string, number>();
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) ownerOfInode.set(m[1], pid);
      } catch {
        // closed while we looked
      }
    }
  }
  return endpoints.map((e) => {
    const inode = inodeOfPeer.get(procAddress(e));
    return inode === undefined ? undefined : ownerOfInode.get(inode);
  });
}
