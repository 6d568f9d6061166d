import { counter, gauge, type Registry } from "../ops/metrics.js";

/** Backend hooks' metrics (docs/backend-hooks.md): requests by hook and outcome, the gate, the breakers. */
export function hookMetrics(registry: Registry) {
  return {
    hookRequests: counter(
      registry,
      "cinder_hook_requests_total",
      "Backend hook calls by hook (connect, join, publish, rpc) and outcome (allow, deny, timeout, unavailable, error, busy, open)",
      ["hook", "outcome"],
    ),
    hookInFlight: gauge(registry, "cinder_hook_in_flight", "Backend hook requests in flight (at most hooks.concurrency per node)"),
    hookWaiting: gauge(registry, "cinder_hook_waiting", "Backend hook requests waiting for a slot (at most hooks.queue per node; past it they are refused as busy)"),
    hookBreakersOpen: gauge(registry, "cinder_hook_breakers_open", "Backend hook endpoints whose circuit breaker is open or half-open, per thread summed"),
    hookBreakerOpens: counter(registry, "cinder_hook_breaker_opens_total", "Times a backend hook endpoint's circuit breaker opened", ["hook"]),
  };
}

export type HookMetrics = ReturnType<typeof hookMetrics>;
