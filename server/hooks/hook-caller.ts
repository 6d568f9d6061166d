import type { Logger } from "../ops/logger.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import { HookGate } from "./hook-gate.js";
import type { HookMetrics } from "./hook-metrics.js";
import { HookAgents, type HookFailure } from "./hook-request.js";
import type { HookEndpoint, HookPlan } from "../settings/hooks-setting.js";

/** The version of the request body's shape, its `v` field (docs/backend-hooks.md). */
export const HOOK_PROTOCOL = 1;

export type HookKind = "connect" | "join" | "publish" | "rpc";

/** Why no answer came: the call's own failure, the wait queue full ("busy"), or the endpoint's breaker open ("open"). */
export type CallFailure = HookFailure | "busy" | "open";

export type HookCall = { ok: true; body: Record<string, unknown> } | { ok: false; failure: CallFailure };

/** What a client is told when its hook failed: the `reason` of its error reply. */
export const FAILURE_REASONS: Readonly<Record<CallFailure, string>> = {
  timeout: "backend timeout",
  unavailable: "backend unavailable",
  open: "backend unavailable",
  busy: "backend busy",
  error: "backend error",
};

/**
 * A thread's calls to the backend: each waits for a slot of the thread's gate, passes its
 * endpoint's circuit breaker, then goes out on a keep-alive connection, within its endpoint's
 * timeout (the wait for a slot included). Every failure is counted and logged here; the outcome
 * of an answer (allow, deny) is counted by the hook that reads it, with `count`.
 */
export class HookCaller {
  private readonly agents: HookAgents;
  private readonly gate: HookGate;
  private readonly breakers = new Map<HookEndpoint, CircuitBreaker>();

  constructor(
    private readonly plan: HookPlan,
    /** This thread's share of the node's bounds (1 for a single-thread node). */
    share: { concurrency: number; queue: number },
    private readonly node: string,
    private readonly metrics: HookMetrics,
    private readonly log: Logger,
  ) {
    this.agents = new HookAgents(share.concurrency);
    this.gate = new HookGate(share.concurrency, share.queue, (inFlight, waiting) => {
      metrics.hookInFlight.set(inFlight);
      metrics.hookWaiting.set(waiting);
    });
  }

  count(kind: HookKind, outcome: string): void {
    this.metrics.hookRequests.inc({ hook: kind, outcome });
  }

  async call(kind: HookKind, endpoint: HookEndpoint, fields: Record<string, unknown>): Promise<HookCall> {
    const breaker = this.breakerOf(kind, endpoint);
    if (!breaker.admit()) return this.failed(kind, endpoint, "open", "circuit breaker open");
    const body = JSON.stringify({ v: HOOK_PROTOCOL, hook: kind, node: this.node, ...fields });
    const started = Date.now();
    const release = await this.enter(endpoint.timeoutMs);
    if (release === "busy" || release === "timeout") {
      // Not the backend's fault: the probe (if this was one) is given back untried.
      breaker.untried();
      return this.failed(kind, endpoint, release, release === "busy" ? "wait queue full" : "timed out waiting for a slot");
    }
    try {
      const response = await this.agents.post(endpoint.url, body, this.plan.secret, Math.max(1, endpoint.timeoutMs - (Date.now() - started)));
      if (response.ok) {
        breaker.succeeded();
        return response;
      }
      breaker.failed();
      return this.failed(kind, endpoint, response.failure, response.detail);
    } finally {
      release();
    }
  }

  close(): void {
    this.agents.close();
  }

  private enter(timeoutMs: number): Promise<(() => void) | "busy" | "timeout"> | "busy" {
    const entry = this.gate.enter();
    if (!entry) return "busy";
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    return Promise.race([entry, late]).then((won) => {
      clearTimeout(timer);
      // A slot that came too late is given back at once.
      if (won === "timeout") void entry.then((release) => release());
      return won;
    });
  }

  private failed(kind: HookKind, endpoint: HookEndpoint, failure: CallFailure, detail: string): HookCall {
    this.count(kind, failure);
    this.log.warn({ hook: kind, url: endpoint.url.href, failure, detail }, "backend hook failed");
    return { ok: false, failure };
  }

  private breakerOf(kind: HookKind, endpoint: HookEndpoint): CircuitBreaker {
    let breaker = this.breakers.get(endpoint);
    if (!breaker) {
      breaker = new CircuitBreaker(this.plan.breakerFailures, this.plan.breakerCoolDownMs, (open) => {
        if (open) this.metrics.hookBreakerOpens.inc({ hook: kind });
        this.metrics.hookBreakersOpen.inc(open ? 1 : -1);
        this.log.warn({ hook: kind, url: endpoint.url.href }, open ? "backend hook circuit breaker opened" : "backend hook circuit breaker closed");
      });
      this.breakers.set(endpoint, breaker);
    }
    return breaker;
  }
}
