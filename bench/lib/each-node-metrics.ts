/**
 * /metrics of every node of a local cluster whose nodes share one port (REUSE_PORT): a connection
 * reaches whichever node the kernel picks, so connections are opened until each node has been
 * reached. Over each, /health names the node and /metrics follows on the same connection (HTTP
 * keep-alive), so the figures are that node's.
 */
import { Agent, request } from "node:http";

/** A family's samples summed, per family name (labels kept apart: `name{label="value"}`). */
export type NodeMetrics = Record<string, number>;

const REQUEST_TIMEOUT_MS = 10_000;

/** One GET over `agent`; resolves with the body and whether the agent's one socket was reused. */
function get(agent: Agent, port: number, path: string): Promise<{ body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ body, reused: req.reusedSocket }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * The samples of `families` in Prometheus text: unlabelled ones under their name, labelled ones
 * under `name{labels}` as written, and every family's total under its name.
 */
export function readFamilies(text: string, families: readonly string[]): NodeMetrics {
  const out: NodeMetrics = {};
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)/.exec(line);
    if (!m || !families.includes(m[1])) continue;
    const value = Number(m[3]);
    out[m[1]] = (out[m[1]] ?? 0) + value;
    if (m[2]) out[`${m[1]}${m[2]}`] = (out[`${m[1]}${m[2]}`] ?? 0) + value;
  }
  return out;
}

/**
 * For each of `nodeNames` (NODE_NAME), the `families` of its /metrics. Gives up after `attempts`
 * connections; a node never reached is missing from the result.
 */
export async function metricsOfEachNode(port: number, nodeNames: readonly string[], families: readonly string[], attempts = 20 * nodeNames.length): Promise<Map<string, NodeMetrics>> {
  const found = new Map<string, NodeMetrics>();
  for (let i = 0; i < attempts && found.size < nodeNames.length; i++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const health = JSON.parse((await get(agent, port, "/health")).body) as { node?: string };
      const node = health.node;
      if (node === undefined || found.has(node) || !nodeNames.includes(node)) continue;
      const metrics = await get(agent, port, "/metrics");
      // A fresh connection might have reached another node: only the one /health came over counts.
      if (metrics.reused) found.set(node, readFamilies(metrics.body, families));
    } catch {
      // a node too busy to answer in time: try another connection
    } finally {
      agent.destroy();
    }
  }
  return found;
}
