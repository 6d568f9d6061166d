import { expect } from "vitest";

import type { Losses } from "../../bench/lib/chaos/accounting.js";
import { LOSS_NAMES } from "../../bench/lib/chaos/accounting.js";
import { formatChaos } from "../../bench/lib/chaos/chaos-report.js";
import type { ChaosResult } from "../../bench/lib/chaos/chaos-run.js";

/** Every loss count of a chaos run's accounting is 0, no process crashed, and pushes were acked (the report is the message when not). */
export function expectNothingLost(result: ChaosResult): void {
  const report = formatChaos(result);
  const losses = Object.fromEntries(LOSS_NAMES.map((name) => [name, result.total[name]])) as unknown as Losses;
  expect({ ...losses, crashes: result.total.crashes }, report).toEqual({
    ...(Object.fromEntries(LOSS_NAMES.map((name) => [name, 0])) as unknown as Losses),
    crashes: 0,
  });
  expect(result.total.acked, report).toBeGreaterThan(0);
}
