import type { ClusterView } from "../cluster-view.js";
import type { TopicLookup } from "../topic-lookup.js";

type NodeView = ClusterView["nodes"][number];

/** A node the page shows: its last view, and whether it said it is draining. */
export interface ShownNode {
  view: NodeView;
  draining: boolean;
}

const cell = (text: string | number, className?: string) => {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (className) td.className = className;
  return td;
};

const row = (...cells: HTMLElement[]) => {
  const tr = document.createElement("tr");
  tr.append(...cells);
  return tr;
};

export const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
export const count = (value: number) => (value >= 1e6 ? `${(value / 1e6).toFixed(2)}M` : value >= 1e4 ? `${(value / 1e3).toFixed(1)}k` : String(Math.round(value * 10) / 10));

function duration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

function redisText(node: NodeView): string {
  if (!node.redis) return "—";
  return node.redis.connected ? `up, ${node.redis.subscribedTopics} topics` : `down (${node.redis.lastError ?? "unreachable"})`;
}

/** The nodes table: one row per node, then one per worker thread. */
export function renderNodes(body: HTMLElement, nodes: ShownNode[]): void {
  body.replaceChildren(
    ...nodes.flatMap(({ view, draining }) => {
      const status = draining ? "draining" : view.status;
      const head = row(cell(view.node, "name"), cell(status, `status ${status}`), cell(duration(view.uptimeMs)), cell(view.workers.length), cell(redisText(view)));
      head.dataset.node = view.node;
      head.dataset.status = status;
      const workers = view.workers.map((worker) =>
        row(cell(`  worker ${worker.index}`, "worker"), cell(`${worker.sockets} sockets`), cell(`${worker.channels} channels`), cell(`${worker.topics} topics`), cell("")),
      );
      return [head, ...workers];
    }),
  );
}

/** The cluster's busiest topics; a click looks the topic up. */
export function renderTop(body: HTMLElement, top: ClusterView["top"], lookUp: (topic: string) => void): void {
  body.replaceChildren(
    ...top.map((entry) => {
      const link = document.createElement("a");
      link.href = "#";
      link.textContent = entry.topic;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        lookUp(entry.topic);
      });
      const name = document.createElement("td");
      name.append(link);
      const tr = row(name, cell(entry.subscribers, "subscribers"), cell(`${entry.presence.keys} / ${entry.presence.metas}`));
      tr.dataset.topic = entry.topic;
      return tr;
    }),
  );
}

/** Process figures per node; `gc` and `cpu` are rates computed by the page. */
export function renderProcess(body: HTMLElement, nodes: NodeView[], gc: Map<string, number>, cpu: Map<string, number>): void {
  body.replaceChildren(
    ...nodes.map((node) =>
      row(
        cell(node.node, "name"),
        cell(`${(node.process.eventLoopDelayP50 * 1000).toFixed(1)} / ${(node.process.eventLoopDelayP99 * 1000).toFixed(1)} ms`),
        cell(`${mib(node.process.heapUsed)} / ${mib(node.process.heapTotal)}`),
        cell(mib(node.process.rss)),
        cell(`${((gc.get(node.node) ?? 0) * 1000).toFixed(1)} ms/s, ${node.process.gcRuns} runs`),
        cell(`${((cpu.get(node.node) ?? 0) * 100).toFixed(0)} %`),
      ),
    ),
  );
}

/** One topic looked up. */
export function renderLookup(target: HTMLElement, lookup: TopicLookup): void {
  const lines: string[] = [`${lookup.topic}`];
  for (const { node, subscribers } of lookup.nodes) lines.push(`  ${node}: ${subscribers} subscribers`);
  lines.push(`presence: ${lookup.presence.keys} keys, ${lookup.presence.metas} metas`);
  for (const { key, metas } of lookup.presence.list) lines.push(`  ${key} (${metas})`);
  if (lookup.history === null) lines.push("no history");
  else {
    lines.push(`last ${lookup.history.length} messages:`);
    for (const message of lookup.history) lines.push(`  #${message.offset} ${message.event} ${JSON.stringify(message.payload).slice(0, 200)}`);
  }
  target.textContent = lines.join("\n");
}
