/**
 * The query and subprotocol parsing of every new socket: the split without URLSearchParams gives
 * what URLSearchParams gives, and phoenix.js's subprotocols read the same with or without a token.
 */
import { describe, expect, it } from "vitest";
import { parseQuery, readSubprotocols } from "../../server/endpoint/handshake.js";

/** What parseQuery gave before it split queries itself, as key-value pairs in order. */
function viaUrlSearchParams(query: string): [string, string][] {
  const params: Record<string, string> = Object.create(null);
  for (const [key, value] of new URLSearchParams(query)) params[key] = value;
  return Object.entries(params);
}

const QUERIES = [
  "",
  "vsn=2.0.0",
  "vsn=2.0.0&user=bench",
  "?vsn=2.0.0&token=abc",
  "vsn=2.0.0&&user=a&",
  "&",
  "a",
  "a&b=",
  "=x",
  "a=b=c",
  "??a=1",
  "a=&=&==&b",
  "a=1&a=2",
  "user=%C3%A9t%C3%A9&vsn=2.0.0",
  "name=a+b",
  "bad=%zz",
  "é=ü&vsn=2.0.0",
  "emoji=😀",
  "lone=\uD800",
  "__proto__=x&toString=y&constructor=z",
  "cinder_dashboard=1&vsn=2.0.0",
];

describe("parseQuery", () => {
  it.each(QUERIES)("reads %j as URLSearchParams does", (query) => {
    expect(Object.entries(parseQuery(query))).toEqual(viaUrlSearchParams(query));
  });

  it("gives objects without a prototype: `__proto__` and `toString` are plain keys", () => {
    const params = parseQuery("__proto__=x&vsn=2.0.0");
    expect(Object.getPrototypeOf(params)).toBe(null);
    expect(params.__proto__).toBe("x");
    expect(parseQuery("vsn=2.0.0").toString).toBeUndefined();
  });
});

describe("readSubprotocols", () => {
  it("reads no header, phoenix alone, and phoenix with a token", () => {
    expect(readSubprotocols("")).toEqual({ authToken: undefined, accept: "" });
    expect(readSubprotocols("phoenix")).toEqual({ authToken: undefined, accept: "phoenix" });
    const token = Buffer.from("s3cret").toString("base64").replace(/=+$/, "");
    expect(readSubprotocols(`phoenix, base64url.bearer.phx.${token}`)).toEqual({ authToken: "s3cret", accept: "phoenix" });
    expect(readSubprotocols("other")).toEqual({ authToken: undefined, accept: "" });
    expect(readSubprotocols(" phoenix ")).toEqual({ authToken: undefined, accept: "phoenix" });
  });
});
