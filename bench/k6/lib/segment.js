// One scenario split over several k6 processes with --execution-segment (as k6 splits a test
// over machines, or its Kubernetes operator over pods). k6 scales each executor's VUs and
// iterations to the segment; what the script does per VU must be numbered test-wide, never
// with __VU/__ITER (1, 2, 3 … again in every process):
//   exec.vu.idInTest               unique over all processes (striped: segment 0:1/2 gets 1, 3, 5 …)
//   exec.scenario.iterationInTest  0 … n-1 over all processes for a per-vu-iterations scenario
//                                  with `iterations: 1` — each VU's part of the work
// Times that all processes must agree on (when to start, when to publish) come from START_AT.
import exec from "k6/execution";

import { envInt } from "./phoenix.js";

/** A VU's number in the whole test, the same however the test is split. */
export function vuInTest() {
  return exec.vu.idInTest;
}

/**
 * The start every process agrees on, in epoch ms: START_AT when given (pass the same value to
 * every process of a split run), else `delayMs` from now (one process, or processes that
 * tolerate starting a little apart). Call it in setup() so every VU of a process sees one value.
 */
export function sharedStart(delayMs) {
  const startAt = envInt("START_AT", 0);
  if (startAt <= 0) return Date.now() + delayMs;
  const late = Date.now() - startAt;
  // Started late, this process would miss the start its peers keep to: refuse rather than skew.
  if (late > 0) throw new Error(`START_AT passed ${late} ms before setup(): give k6 longer to start (e.g. now + 30 s)`);
  return startAt;
}

/** Milliseconds from now until START_AT (0 without it): added to a scenario's maxDuration. */
export function msUntilStart() {
  const startAt = envInt("START_AT", 0);
  return startAt > 0 ? Math.max(0, startAt - Date.now()) : 0;
}

/** VUs that hold `total` sockets, `perVu` each (the last ones may hold one fewer). */
export function vusFor(total, perVu) {
  return Math.max(1, Math.ceil(total / Math.max(1, perVu)));
}

/**
 * The sockets of this VU, numbered 0 … total-1 over the whole test: VU b of V (b =
 * iterationInTest of a per-vu-iterations scenario with one iteration) holds b, b+V, b+2V … so
 * every VU, and so every process, opens its sockets throughout the ramp rather than one block
 * after another.
 */
export function socketsOfThisVu(total, vus) {
  const first = exec.scenario.iterationInTest;
  const out = [];
  for (let i = first; i < total; i += vus) out.push(i);
  return out;
}

/** The split this process runs, for its summary: null when it runs the whole test. */
export function segmentOfThisProcess() {
  const o = exec.test.options;
  return o.executionSegment ? { segment: String(o.executionSegment), sequence: String(o.executionSegmentSequence || "") } : null;
}

/** Duration string ("30s", "2m", "500ms") in ms. */
export function durationMs(d) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(d));
  if (!m) throw new Error(`bad duration ${d} (e.g. 500ms, 30s, 2m)`);
  return parseFloat(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2]];
}

/** The scenario's iteration number in the whole test (unique over all processes). */
export function iterationInTest() {
  return exec.scenario.iterationInTest;
}
