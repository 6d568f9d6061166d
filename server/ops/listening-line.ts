/** What a node serves, for the line `npx cinder` prints once it listens. */
export interface Served {
  host: string;
  port: number;
  socketPath: string;
  demo: boolean;
  dashboard: boolean;
}

/** How the line begins, so that whoever reads a node's stderr can tell it from an error. */
export const LISTENING_LINE_START = "Cinder listening on ";

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

/** `Cinder listening on http://127.0.0.1:4000 — demo /, dashboard /dashboard, sockets /socket`: for people, not log parsers. */
export function listeningLine(served: Served): string {
  const wildcard = WILDCARDS.has(served.host);
  const host = wildcard ? "localhost" : served.host.includes(":") && !served.host.startsWith("[") ? `[${served.host}]` : served.host;
  const parts = [served.demo && "demo /", served.dashboard && "dashboard /dashboard", `sockets ${served.socketPath}`].filter(Boolean);
  return `${LISTENING_LINE_START}http://${host}:${served.port}${wildcard ? " (all interfaces)" : ""} — ${parts.join(", ")}`;
}
