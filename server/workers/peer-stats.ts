import type { MeshMessage, WorkerStats } from "./mesh-messages.js";
import type { PeerMesh } from "./peer-mesh.js";

const STATS_TIMEOUT_MS = 500;

/**
 * Answers and asks "how are you" across the workers of a node, so whichever worker serves
 * /health or /metrics can speak for all of them. A peer that does not answer in time is left out.
 */
export class PeerStats {
  private nextId = 1;
  private readonly waiting = new Map<number, (from: number, stats: WorkerStats, metrics: unknown) => void>();

  constructor(
    private readonly mesh: PeerMesh,
    private readonly local: () => WorkerStats,
    private readonly localMetrics: () => Promise<unknown>,
  ) {
    mesh.onMessage((from, message) => this.receive(from, message));
  }

  async collect(): Promise<{ stats: WorkerStats[]; metrics: unknown[] }> {
    const stats = [this.local()];
    const metrics = [await this.localMetrics()];
    const peers = [...this.mesh.peers()];
    if (peers.length === 0) return { stats, metrics };
    const id = this.nextId++;
    await new Promise<void>((resolve) => {
      let remaining = peers.length;
      const timer = setTimeout(done, STATS_TIMEOUT_MS);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waiting.set(id, (_from, peerStats, peerMetrics) => {
        stats.push(peerStats);
        metrics.push(peerMetrics);
        if (--remaining === 0) done();
      });
      this.mesh.postAll({ k: "statsRequest", id });
    });
    this.waiting.delete(id);
    return { stats: stats.sort((a, b) => a.index - b.index), metrics };
  }

  private receive(from: number, message: MeshMessage): void {
    if (message.k === "statsRequest") {
      this.localMetrics().then((metrics) => this.mesh.post(from, { k: "statsReply", id: message.id, stats: this.local(), metrics }));
    } else if (message.k === "statsReply") {
      this.waiting.get(message.id)?.(from, message.stats, message.metrics);
    }
  }
}
