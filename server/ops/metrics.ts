/**
 * The one way a metric is declared. Each feature declares its metrics in a group of its own folder
 * (`history/history-metrics.ts`, …): a function of the registry that returns them by name, built
 * with `counter` and `gauge` below. The wiring puts a thread's groups on one registry, served at
 * /metrics (docs/architecture.md, "Metrics").
 */
import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from "prom-client";

export type { Registry };

/** Process metrics (CPU, memory, event loop) in a registry, or none. */
export interface ProcessMetricsOptions {
  processMetrics: boolean;
  /** How often the event-loop delay histogram samples, ms (prom-client's default: 10; the `eventLoopResolutionMs` setting). */
  eventLoopResolutionMs?: number;
}

/**
 * A registry for one thread's metrics. Process metrics (CPU, memory, event loop) are per process:
 * collect them in one thread only.
 */
export function metricsRegistry(options: ProcessMetricsOptions = { processMetrics: false }): Registry {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: options.eventLoopResolutionMs ?? 10 });
  return registry;
}

/** A counter on the registry, with its label names if it has any. */
export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/**
 * A gauge on the registry, with its label names if it has any. A node's /metrics sums its threads'
 * gauges unless `acrossThreads` is "max" (for a figure that is worst-of, not a total).
 */
export function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = [], acrossThreads: "sum" | "max" = "sum"): Gauge<L> {
  return new Gauge({ name, help, labelNames, registers: [registry], aggregator: acrossThreads });
}

/** Sums the metrics of several worker threads into one Prometheus text. */
export async function aggregateMetrics(perWorker: unknown[]): Promise<string> {
  const registry = AggregatorRegistry.aggregate(perWorker as Array<Array<MetricObjectWithValues<MetricValue<string>>>>);
  return registry.metrics();
}
