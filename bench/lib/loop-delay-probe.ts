/**
 * Preloaded into a node under test (`node --import <this file> cli.js`): watches the main
 * thread's event loop delay, and on SIGUSR2 writes what it saw since the last report as one
 * JSON line on stderr (`{"loopDelay": {p50, p99, max}}`, ms), then starts over. It needs nothing
 * of the server, so any build can be measured the same way.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";

const RESOLUTION_MS = 10;
const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
histogram.enable();
// The histogram holds the time between two of its timer's turns: the delay is what is past the resolution.
const ms = (ns: number) => Math.max(0, Math.round(ns / 1e4) / 100 - RESOLUTION_MS);
process.on("SIGUSR2", () => {
  const loopDelay = { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) };
  process.stderr.write(`${JSON.stringify({ loopDelay })}\n`);
  histogram.reset();
});
