import type { ChannelHandler } from "../channel/handler.js";
import type { HistoryTopics } from "../channel/history-topics.js";
import type { ChannelRouter } from "../channel/router.js";
import type { Fabric } from "../fabric/fabric.js";
import type { Logger } from "../ops/logger.js";
import type { PresenceService } from "../presence/presence-service.js";
import type { Broadcaster } from "../pubsub/broadcaster.js";
import type { LocalFanout } from "../pubsub/local-fanout.js";
import { nodeHealth, threadFigures, type HealthReport } from "../stats/node-report.js";
import { STATS_TIMEOUT_MS, type ThreadReports } from "../stats/thread-reports.js";
import { dashboardChannel, DASHBOARD_TOPIC } from "./dashboard-channel.js";
import { DashboardFeed, NODE_SNAPSHOT_TIMEOUT_MS } from "./dashboard-feed.js";
import { askNodes, serveNodes, SUBSCRIBERS_LANE, type NodeAnswer, type NodeQuestion } from "./node-lane.js";
import { nodeSnapshot, TOP_PER_THREAD, type NodeSnapshot } from "./node-snapshot.js";
import { lookUpTopic, type TopicLookup } from "./topic-lookup.js";

export interface NodeDashboardParts {
  settings: { nodeName: string; dashboard: boolean; dashboardKey: string | undefined };
  fabric: Fabric;
  fanout: Pick<LocalFanout, "topTopics" | "subscribersOf" | "deliver">;
  broadcaster: Pick<Broadcaster, "broadcast">;
  reports: ThreadReports;
  metrics: { registry: { getMetricsAsJSON(): Promise<unknown[]> } };
  presence: Pick<PresenceService, "count" | "list">;
  router: Pick<ChannelRouter, "addReserved">;
  /** This thread's own numbers. */
  health: () => HealthReport;
  /** A history topic's messages after `since`. */
  historyTopics: Pick<HistoryTopics, "keeps" | "read">;
  log: Logger;
}

/**
 * What a thread does for the dashboard: it answers the node lane (its node's snapshot, one
 * topic's subscribers) and the subscribers lane for its siblings, and, with `dashboard: true`,
 * serves the reserved dashboard channel and its feed.
 */
export class NodeDashboard {
  private readonly feed: DashboardFeed | undefined;

  constructor(private readonly parts: NodeDashboardParts) {
    const { settings, fabric, fanout, presence } = parts;
    fabric.serve(SUBSCRIBERS_LANE, async (topic) => fanout.subscribersOf(topic as string));
    serveNodes(fabric, (question) => this.answerNode(question));
    if (!settings.dashboard) return;
    this.feed = new DashboardFeed({
      own: () => this.nodeSnapshot(),
      others: async () => (await askNodes(fabric, { kind: "snapshot" }, NODE_SNAPSHOT_TIMEOUT_MS)).flatMap((answer) => (answer.kind === "snapshot" ? [answer.snapshot] : [])),
      presence: (topic) => presence.count(topic),
      deliver: (view) => fanout.deliver(DASHBOARD_TOPIC, "cluster", { ...view }),
      log: parts.log,
    });
    parts.router.addReserved(DASHBOARD_TOPIC, dashboardChannel({ key: settings.dashboardKey, feed: this.feed, lookUp: (topic) => this.lookUpTopic(topic) }) as unknown as ChannelHandler);
  }

  /** This node as the dashboard shows it, gathered from every thread like /health and /metrics. */
  async nodeSnapshot(): Promise<NodeSnapshot> {
    const { reports, fanout, health } = this.parts;
    const own = await this.parts.metrics.registry.getMetricsAsJSON();
    const ownTop = fanout.topTopics(TOP_PER_THREAD);
    if (!reports.threaded) return nodeSnapshot(health(), [own], [ownTop]);
    const answers = await reports.askThreads({ top: TOP_PER_THREAD });
    const { metrics, tops } = threadFigures(answers);
    return nodeSnapshot(nodeHealth(health(), reports.workerStats(), answers), [own, ...metrics], [ownTop, ...tops]);
  }

  /** Open dashboards, here and on other nodes, show this node as draining until it is gone. */
  announceDraining(): void {
    if (this.feed) this.parts.broadcaster.broadcast(DASHBOARD_TOPIC, "draining", { node: this.parts.settings.nodeName }, null);
  }

  stop(): void {
    this.feed?.stop();
  }

  /** Subscribers of `topic` on this node, summed over its threads. */
  private async nodeSubscribers(topic: string): Promise<number> {
    const { reports, fabric, fanout } = this.parts;
    const answers = reports.threaded ? await fabric.ask(SUBSCRIBERS_LANE, "threads", topic, STATS_TIMEOUT_MS) : [];
    return answers.reduce<number>((total, answer) => total + (typeof answer === "number" ? answer : 0), fanout.subscribersOf(topic));
  }

  /** Another node's question on the node request lane (the dashboard's). */
  private async answerNode(question: NodeQuestion): Promise<NodeAnswer> {
    if (question.kind === "snapshot") return { kind: "snapshot", snapshot: await this.nodeSnapshot() };
    return { kind: "topic", node: this.parts.settings.nodeName, subscribers: await this.nodeSubscribers(question.topic) };
  }

  /** The dashboard's search box: one topic across the cluster. */
  private lookUpTopic(topic: string): Promise<TopicLookup> {
    const { fabric, settings, presence, historyTopics } = this.parts;
    return lookUpTopic(topic, {
      subscribers: async (topic) => {
        const [own, others] = await Promise.all([this.nodeSubscribers(topic), askNodes(fabric, { kind: "topic", topic }, NODE_SNAPSHOT_TIMEOUT_MS)]);
        const nodes = others.flatMap((answer) => (answer.kind === "topic" ? [{ node: answer.node, subscribers: answer.subscribers }] : []));
        return [{ node: settings.nodeName, subscribers: own }, ...nodes];
      },
      presence: (topic) => presence.list(topic),
      history: (topic, since, limit) => (historyTopics.keeps(topic) ? historyTopics.read(topic, { since, limit }) : Promise.resolve(null)),
    });
  }
}
