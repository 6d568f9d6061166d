/** bench/results/compare.svg: grouped bars of deliveries/s on a log scale (Socket.IO and uWS differ 30×). */
import type { CompareResults } from "./compare-results.js";
import { fmtRate } from "./format.js";

const COLORS = ["#4c78a8", "#e45756", "#f58518", "#54a24b", "#b279a2"];

export function renderChart(r: CompareResults): string {
  const targets = [...new Set(r.fanout.map((c) => c.target))];
  const groups = [...new Set(r.fanout.map((c) => `${c.subscribers}|${c.inflight}`))];
  const width = 120 + groups.length * (targets.length * 26 + 30);
  const height = 380;
  const plotTop = 40;
  const plotBottom = height - 70;
  const maxValue = Math.max(1, ...r.fanout.map((c) => c.deliveries_per_s));
  const lo = 1e4;
  const hi = 10 ** Math.ceil(Math.log10(maxValue));
  const y = (v: number): number =>
    plotBottom - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (plotBottom - plotTop);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14">Broadcast deliveries per second (log scale), ${r.machine.cores} cores, server and client pinned</text>`,
  ];
  for (let v = lo; v <= hi; v *= 10) {
    out.push(`<line x1="70" x2="${width - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="64" y="${y(v) + 4}" text-anchor="end">${fmtRate(v)}</text>`);
  }
  groups.forEach((g, gi) => {
    const [subs, inflight] = g.split("|");
    const x0 = 80 + gi * (targets.length * 26 + 30);
    targets.forEach((t, ti) => {
      const cell = r.fanout.find((c) => c.target === t && `${c.subscribers}|${c.inflight}` === g);
      if (!cell) return;
      const x = x0 + ti * 26;
      const top = y(cell.deliveries_per_s);
      out.push(`<rect x="${x}" y="${top}" width="22" height="${plotBottom - top}" fill="${COLORS[ti % COLORS.length]}"/>`);
      out.push(`<text x="${x + 11}" y="${top - 3}" text-anchor="middle" font-size="9">${fmtRate(cell.deliveries_per_s)}</text>`);
    });
    const mid = x0 + (targets.length * 26) / 2;
    out.push(`<text x="${mid}" y="${plotBottom + 16}" text-anchor="middle">${Number(subs).toLocaleString("en")} subs</text>`);
    out.push(`<text x="${mid}" y="${plotBottom + 30}" text-anchor="middle">${inflight} in flight</text>`);
  });
  targets.forEach((t, ti) => {
    const x = 80 + ti * 150;
    out.push(`<rect x="${x}" y="${height - 22}" width="12" height="12" fill="${COLORS[ti % COLORS.length]}"/>`);
    out.push(`<text x="${x + 16}" y="${height - 12}">${t}</text>`);
  });
  out.push("</svg>");
  return out.join("\n");
}
