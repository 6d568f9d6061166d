/**
 * The `authToken` as it travels in the WebSocket subprotocol: base64url without padding over
 * its UTF-8 bytes, so any token survives (`btoa` alone throws on non-Latin-1 text). The UTF-8
 * bytes come from encodeURIComponent rather than TextEncoder, which some environments (jsdom) lack.
 */
export function encodeToken(token: string): string {
  return btoa(unescape(encodeURIComponent(token))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=/g, "");
}

/**
 * The token back from base64 or base64url (padded or not), as the byte string an HTTP header
 * carries: its UTF-8 bytes one per character, which is also the text itself for ASCII tokens.
 */
export function decodeToken(encoded: string): string {
  return atob(encoded.replace(/-/g, "+").replace(/_/g, "/"));
}
