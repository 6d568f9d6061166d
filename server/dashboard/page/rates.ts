import type { ClusterView } from "../cluster-view.js";

type NodeView = ClusterView["nodes"][number];

/**
 * Per-second rates of each node's running totals, from one `cluster` view to the next. A node
 * seen for the first time (or restarted: its totals went down) has no rate until its next view.
 */
export class Rates {
  private readonly previous = new Map<string, NodeView>();

  /** `pick` reads a running total; the result is its rate per node, per second. */
  next(nodes: NodeView[], pick: (node: NodeView) => number): Map<string, number> {
    const rates = new Map<string, number>();
    for (const node of nodes) {
      const before = this.previous.get(node.node);
      if (!before || node.at <= before.at) continue;
      const delta = pick(node) - pick(before);
      rates.set(node.node, delta < 0 ? 0 : delta / ((node.at - before.at) / 1000));
    }
    return rates;
  }

  /** Called once every chart has read this view. */
  advance(nodes: NodeView[]): void {
    this.previous.clear();
    for (const node of nodes) this.previous.set(node.node, node);
  }
}
