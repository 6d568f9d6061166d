import { DEFAULT_WINDOW, type CounterWindow } from "./counter-window.js";

/**
 * Which window a key counts over: `"post:*"` matches a prefix, `"room:lobby"` one key; an
 * exact key wins, then the longest prefix, then the default (6 h in 5-minute buckets). Every
 * node must declare the same rules: the Redis key of a counter names its bucket length, so a
 * node that disagrees counts apart rather than corrupting the others' buckets.
 */
export class WindowRules {
  private readonly exact = new Map<string, CounterWindow>();
  private readonly prefixes: Array<{ prefix: string; window: CounterWindow }> = [];

  set(pattern: string, window: CounterWindow): void {
    if (!pattern.endsWith("*")) return void this.exact.set(pattern, window);
    const prefix = pattern.slice(0, -1);
    const existing = this.prefixes.findIndex((rule) => rule.prefix === prefix);
    if (existing >= 0) this.prefixes.splice(existing, 1);
    this.prefixes.push({ prefix, window });
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  of(key: string): CounterWindow {
    const exact = this.exact.get(key);
    if (exact) return exact;
    for (const rule of this.prefixes) if (key.startsWith(rule.prefix)) return rule.window;
    return DEFAULT_WINDOW;
  }
}
