/** A chaos run as markdown: the losses per fault window (all 0 when nothing is lost), then what happened. */
import type { WindowCounts } from "./accounting.js";
import type { ChaosResult } from "./chaos-run.js";

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`, ...rows.map((row) => `| ${row.join(" | ")} |`)];
}

/** Pairs, and distinct messages when they differ. */
const pairs = (count: number, messages: number) => (count === messages ? String(count) : `${count} (${messages} msgs)`);
const seconds = (value: number | null | undefined) => (value === undefined ? "" : value === null ? "> 60 s" : `${value.toFixed(1)} s`);

export function lossTable(result: ChaosResult): string[] {
  const row = (w: WindowCounts) => [
    w.label,
    pairs(w.missingConnected, w.missingConnectedMessages),
    pairs(w.missingRecovered, w.missingRecoveredMessages),
    String(w.refused),
    String(w.ackedUndelivered),
    String(w.duplicates),
    String(w.outOfOrder),
  ];
  return table(
    ["window", "missing while connected", "missing across a recovered rejoin", "rejoins refused", "acked ok, delivered to no one", "duplicates", "out of order"],
    [...result.windows.map(row), row(result.total).map((cell, i) => (i === 0 ? "**all**" : `**${cell}**`))],
  );
}

export function eventTable(result: ChaosResult): string[] {
  // Window 0 is the traffic before the faults; window i + 1 begins with fault i.
  const row = (w: WindowCounts, index: number) => [
    w.label,
    String(w.pushes),
    String(w.acked),
    String(w.failed),
    String(w.ackedUnseen),
    `${w.rejoins} / ${w.recovered}`,
    String(w.notReplayed),
    String(w.joinFailures),
    seconds(result.faults[index - 1]?.ghostSeconds),
    `${w.statsSilence.toFixed(1)} s`,
    `${w.errorLines} / ${w.warnLines}`,
    String(w.crashes),
  ];
  return table(
    ["window", "pushes", "acked ok", "error / timeout", "ok, not seen in Redis", "rejoins / recovered", "held, not replayed (refused)", "join errors", "ghosts gone after", "longest stats silence", "node error / warn lines", "crashes"],
    [...result.windows.map(row), row(result.total, 0)],
  );
}

export function formatChaos(result: ChaosResult): string {
  const lines = ["", "Losses per fault window (a message counts in the window its push was sent in; pairs = (client, message)):", "", ...lossTable(result)];
  lines.push("", "What happened:", "", ...eventTable(result), "");
  for (const fault of result.faults) lines.push(`- ${fault.label}: ${fault.steps.join(", ")}`);
  if (!result.fenced) lines.push("- the last fence did not reach every client: some client stayed without messages of its room");
  if (result.strays > 0) lines.push(`- ${result.strays} deliveries arrived outside a joined segment`);
  if (result.failedStreamReads > 0) lines.push(`- ${result.failedStreamReads} reads of Redis's streams failed (during the outage)`);
  if (result.examples.length > 0) lines.push("", "Examples:", "", ...result.examples.map((e) => `- ${e}`), "");
  for (const line of result.errorSamples) lines.push(`- error line of ${line.source}: ${line.text.slice(0, 300)}`);
  const { load } = result;
  lines.push(
    `- load: the clients' event loop was late by ${load.loopDelayP99Ms.toFixed(0)} ms at p99 (${load.loopDelayMaxMs.toFixed(0)} ms at most); ` +
      `1-minute load average ${load.loadAverage[0].toFixed(1)} at the start, ${load.loadAverage[1].toFixed(1)} at the end, on ${load.cores} cores`,
  );
  lines.push(`- node and Redis logs: ${result.logDir}`);
  return lines.join("\n");
}
