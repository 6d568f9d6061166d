import type { Params } from "./message.js";

/** Appends params to a URL as a query string, nesting objects as `key[sub]=value` like phoenix.js. */
export function appendParams(url: string, params: Params): string {
  const query = serialize(params, "");
  if (!query) return url;
  return `${url}${url.includes("?") ? "&" : "?"}${query}`;
}

function serialize(params: Params, parentKey: string): string {
  const parts: string[] = [];
  for (const key of Object.keys(params)) {
    const value = params[key];
    if (value === undefined || value === null) continue;
    const name = parentKey ? `${parentKey}[${key}]` : key;
    parts.push(
      typeof value === "object"
        ? serialize(value as Params, name)
        : `${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`,
    );
  }
  return parts.filter(Boolean).join("&");
}

/** A value, or a function returning it, as a function (params are re-read at each connect). */
export function closure<T>(value: T | (() => T)): () => T {
  return typeof value === "function" ? (value as () => T) : () => value;
}
