import type { OriginCheck } from "../config.js";

/** What only URLSearchParams reads right in a query: escapes, "+" for a space, surrogates. */
const NEEDS_DECODING = /[%+\uD800-\uDFFF]/;

/** Query string → params, as the connect hook receives them (vsn included, like Phoenix). */
export function parseQuery(query: string): Record<string, string> {
  const params: Record<string, string> = Object.create(null);
  // Nothing to decode (no escape, no "+", no surrogate, whose lone halves URLSearchParams replaces),
  // the common case (`vsn=2.0.0`): split as URLSearchParams would, without building it and its
  // list of pairs for every new socket.
  if (!NEEDS_DECODING.test(query)) {
    for (let start = query.startsWith("?") ? 1 : 0; start < query.length; ) {
      let end = query.indexOf("&", start);
      if (end < 0) end = query.length;
      if (end > start) {
        const pair = query.slice(start, end);
        const eq = pair.indexOf("=");
        if (eq < 0) params[pair] = "";
        else params[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      start = end + 1;
    }
    return params;
  }
  for (const [key, value] of new URLSearchParams(query)) params[key] = value;
  return params;
}

/** Phoenix matches the V2 serializer with the requirement "~> 2.0.0"; V1 is not served. */
export function isSupportedVsn(vsn: string | undefined): boolean {
  return vsn !== undefined && /^2\.0\.\d+$/.test(vsn);
}

/** Host names that can only be this machine: the default of `checkOrigin: true` without `publicUrl`. */
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/**
 * `true`: a browser's Origin must be the configured `publicUrl`'s origin (scheme, host, port),
 * or, without one, a loopback host that is also the host it connects to: the Host header alone
 * proves nothing (DNS rebinding points a hostile name at this server). `false`: anything. A list
 * holds full origins (`https://app.example.com`) or host patterns (`//example.com`,
 * `//*.example.com`). Requests without an Origin (non-browser clients) are always allowed, as in Phoenix.
 */
export function isOriginAllowed(check: OriginCheck, origin: string, host: string, publicUrl?: string): boolean {
  if (!origin || check === false) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (check === true) {
    if (publicUrl !== undefined) return url.origin === new URL(publicUrl).origin;
    return LOOPBACK.test(url.hostname) && (url.protocol === "http:" || url.protocol === "https:") && url.host === host;
  }
  if (typeof check === "function") return check(origin, host);
  return check.some((allowed) => {
    if (!allowed.startsWith("//")) return allowed.replace(/\/$/, "") === url.origin;
    const pattern = allowed.slice(2);
    if (pattern.startsWith("*.")) return url.hostname.endsWith(pattern.slice(1));
    return url.hostname === pattern || url.host === pattern;
  });
}

const TOKEN_PREFIX = "base64url.bearer.phx.";
const NO_SUBPROTOCOL = Object.freeze({ authToken: undefined, accept: "" });
const PHOENIX_ONLY = Object.freeze({ authToken: undefined, accept: "phoenix" });

/**
 * phoenix.js sends `authToken` as the subprotocols `phoenix, base64url.bearer.phx.<btoa(token)>`
 * (standard base64 alphabet without padding, despite the prefix). We answer with `phoenix`.
 */
export function readSubprotocols(header: string): { authToken: string | undefined; accept: string } {
  // No subprotocol, or phoenix.js's without a token: nothing to split.
  if (header === "") return NO_SUBPROTOCOL;
  if (header === "phoenix") return PHOENIX_ONLY;
  const offered = header.split(",").map((p) => p.trim()).filter(Boolean);
  let authToken: string | undefined;
  for (const protocol of offered) {
    if (protocol.startsWith(TOKEN_PREFIX)) {
      authToken = Buffer.from(protocol.slice(TOKEN_PREFIX.length), "base64").toString("utf8");
    }
  }
  return { authToken, accept: offered.includes("phoenix") ? "phoenix" : "" };
}
