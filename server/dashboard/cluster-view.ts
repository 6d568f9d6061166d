import type { NodeSnapshot } from "./node-snapshot.js";
import { mergeTop } from "./node-snapshot.js";

/** Topics the dashboard lists. */
export const TOP_TOPICS = 20;

/** A topic of the cluster's top list, with its presence counted cluster-wide. */
export interface TopTopic {
  topic: string;
  subscribers: number;
  presence: { keys: number; metas: number };
}

/** What a dashboard receives once a second (event `cluster`): every node that answered, and the cluster's busiest topics. */
export interface ClusterView {
  /** When it was gathered (ms since the epoch, the gathering node's clock). */
  at: number;
  /** By node name; each without its own top list (the cluster's is `top`). */
  nodes: Array<Omit<NodeSnapshot, "top">>;
  top: TopTopic[];
}

/** The page's view of the cluster from the nodes' snapshots. */
export function clusterView(snapshots: NodeSnapshot[], presence: (topic: string) => { keys: number; metas: number }): ClusterView {
  const nodes = snapshots.map(({ top: _top, ...node }) => node).sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const top = mergeTop(snapshots.map((snapshot) => snapshot.top), TOP_TOPICS).map((entry) => ({ ...entry, presence: presence(entry.topic) }));
  return { at: Date.now(), nodes, top };
}
