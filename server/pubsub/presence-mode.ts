/**
 * How a subscriber follows a topic's presence: `list` (Phoenix's `presence_state` and
 * `presence_diff`) or `count` (`presence_count`, for topics whose list is too big to ship).
 * A client picks `count` with the join param `presence: "count"`.
 */
export type PresenceMode = "list" | "count";

export function presenceModeOf(params: Record<string, unknown>): PresenceMode {
  return params.presence === "count" ? "count" : "list";
}
