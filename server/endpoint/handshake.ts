import type { OriginCheck } from "../config.js";

/** Query string → params, as the connect hook receives them (vsn included, like Phoenix). */
export function parseQuery(query: string): Record<string, string> {
  const params: Record<string, string> = Object.create(null);
  for (const [key, value] of new URLSearchParams(query)) params[key] = value;
  return params;
}

/** Phoenix matches the V2 serializer with the requirement "~> 2.0.0"; V1 is not served. */
export function isSupportedVsn(vsn: string | undefined): boolean {
  return vsn !== undefined && /^2\.0\.\d+$/.test(vsn);
}

/**
 * `true`: a browser's Origin must name the host it connects to (same-origin); `false`: anything.
 * A list holds full origins (`https://app.example.com`) or host patterns (`//example.com`,
 * `//*.example.com`). Requests without an Origin (non-browser clients) are always allowed, as in Phoenix.
 */
export function isOriginAllowed(check: OriginCheck, origin: string, host: string): boolean {
  if (!origin || check === false) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (check === true) return url.host === host;
  if (typeof check === "function") return check(origin, host);
  return check.some((allowed) => {
    if (!allowed.startsWith("//")) return allowed.replace(/\/$/, "") === url.origin;
    const pattern = allowed.slice(2);
    if (pattern.startsWith("*.")) return url.hostname.endsWith(pattern.slice(1));
    return url.hostname === pattern || url.host === pattern;
  });
}

const TOKEN_PREFIX = "base64url.bearer.phx.";

/**
 * phoenix.js sends `authToken` as the subprotocols `phoenix, base64url.bearer.phx.<btoa(token)>`
 * (standard base64 alphabet without padding, despite the prefix). We answer with `phoenix`.
 */
export function readSubprotocols(header: string): { authToken: string | undefined; accept: string } {
  const offered = header.split(",").map((p) => p.trim()).filter(Boolean);
  let authToken: string | undefined;
  for (const protocol of offered) {
    if (protocol.startsWith(TOKEN_PREFIX)) {
      authToken = Buffer.from(protocol.slice(TOKEN_PREFIX.length), "base64").toString("utf8");
    }
  }
  return { authToken, accept: offered.includes("phoenix") ? "phoenix" : "" };
}
