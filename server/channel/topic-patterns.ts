/**
 * Topic patterns as Phoenix writes them (`channel "room:*", RoomChannel`): an exact topic, or a
 * prefix ending in `*`. The first registered match wins; exact topics are checked first.
 */
export class TopicPatterns<T> {
  private readonly exact = new Map<string, T>();
  private readonly prefixed: Array<{ pattern: string; prefix: string; value: T }> = [];

  /** `what` names the kind of registration in errors ("channel", "topic worker"). */
  add(pattern: string, value: T, what: string): void {
    if (typeof pattern !== "string" || pattern.length === 0) throw new TypeError(`${what} pattern must be a non-empty string`);
    const star = pattern.indexOf("*");
    if (star !== -1 && star !== pattern.length - 1) throw new TypeError(`${what} pattern "${pattern}": "*" is only allowed at the end`);
    if (this.exact.has(pattern) || this.prefixed.some((route) => route.pattern === pattern)) {
      throw new TypeError(`${what} "${pattern}" is already declared`);
    }
    if (star === -1) this.exact.set(pattern, value);
    else this.prefixed.push({ pattern, prefix: pattern.slice(0, -1), value });
  }

  match(topic: string): T | undefined {
    const exact = this.exact.get(topic);
    if (exact !== undefined) return exact;
    for (const route of this.prefixed) if (topic.startsWith(route.prefix)) return route.value;
    return undefined;
  }
}
