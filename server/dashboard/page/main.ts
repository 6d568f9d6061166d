import { Socket, type Channel } from "../../../client/index.js";
import type { ClusterView } from "../cluster-view.js";
import type { TopicLookup } from "../topic-lookup.js";
import { LineChart } from "./chart.js";
import { Rates } from "./rates.js";
import { count, renderLookup, renderNodes, renderProcess, renderTop, type ShownNode } from "./render.js";

/** The key is asked once and kept for this tab only. */
const KEY_STORAGE = "cinder.dashboard.key";
const TOPIC = "cinder:dashboard";
/** The connect param that makes this the dashboard's socket (DASHBOARD_SOCKET_PARAM on the server). */
const SOCKET_PARAM = "cinder_dashboard";
/** Views a draining node stays on the page after it stopped answering. */
const DRAINING_GRACE = 2;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

type NodeView = ClusterView["nodes"][number];
const CHARTS: Array<{ id: string; read: (node: NodeView) => number; rate: boolean }> = [
  { id: "connections", read: (node) => node.totals.sockets, rate: false },
  { id: "joins", read: (node) => node.totals.joins, rate: true },
  { id: "messages", read: (node) => node.totals.messagesReceived, rate: true },
  { id: "deliveries", read: (node) => node.totals.deliveries, rate: true },
  { id: "presence-diffs", read: (node) => node.totals.presenceDiffs, rate: true },
  { id: "slow-consumers", read: (node) => node.totals.slowConsumers, rate: true },
  { id: "frame-errors", read: (node) => node.totals.frameErrors, rate: true },
];

const charts = CHARTS.map((spec) => ({ ...spec, chart: new LineChart($(`chart-${spec.id}`), count) }));
const rates = new Rates();
const shown = new Map<string, ShownNode & { missed: number }>();
let key = sessionStorage.getItem(KEY_STORAGE) ?? "";
/** Whether the socket opened with this key: until then a failed connect is taken for a refused key. */
let keyWorked = false;
// The page's own socket: the server lets it in with the key whatever auth the app uses, for the
// dashboard's topic only. The key travels as the auth token (a subprotocol), never in the URL.
const socket = new Socket("/socket", { params: { [SOCKET_PARAM]: "1" }, authToken: () => key });
let channel: Channel | undefined;

socket.onOpen(() => {
  keyWorked = true;
  $("connection").textContent = "live";
});
socket.onClose(() => {
  if (keyWorked) $("connection").textContent = "reconnecting";
});
socket.onError(() => {
  if (keyWorked) return;
  // A browser cannot read why an upgrade failed: with a key that never worked, a refusal is the
  // likely reason. Stop retrying with it, and ask.
  socket.disconnect();
  askForKey(key ? "could not connect with this key: it is wrong, or the server cannot be reached" : "");
});
socket.connect();
open();

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  key = $<HTMLInputElement>("key").value;
  sessionStorage.setItem(KEY_STORAGE, key);
  keyWorked = false;
  $("key-error").textContent = "";
  $("connection").textContent = "connecting";
  socket.disconnect(() => socket.connect());
  open();
});

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  lookUp($<HTMLInputElement>("search-topic").value.trim());
});

function askForKey(problem: string): void {
  $("connection").textContent = "key needed";
  $("board").hidden = true;
  $("key-form").hidden = false;
  $("key-error").textContent = problem;
  $<HTMLInputElement>("key").focus();
}

function open(): void {
  channel?.leave();
  const joining = socket.channel(TOPIC, { key });
  channel = joining;
  joining.on<ClusterView>("cluster", show);
  joining.on<{ node: string }>("draining", ({ node }) => {
    const known = shown.get(node);
    if (known) known.draining = true;
  });
  joining
    .join()
    .receive("ok", () => {
      $("key-form").hidden = true;
      $("board").hidden = false;
    })
    .receive("error", ({ reason }: { reason: string }) => {
      // A refused join would be retried with the same key: stop, and ask.
      joining.leave();
      askForKey(key ? `refused: ${reason}` : "");
    });
}

function show(view: ClusterView): void {
  for (const node of view.nodes) {
    const known = shown.get(node.node);
    shown.set(node.node, { view: node, draining: (known?.draining ?? false) || node.status === "draining", missed: 0 });
  }
  for (const [name, node] of shown) {
    if (view.nodes.some((n) => n.node === name)) continue;
    // Gone without a word (a crash): off the page now; draining: after a short grace.
    if (!node.draining || ++node.missed > DRAINING_GRACE) shown.delete(name);
  }
  renderNodes($("nodes"), [...shown.values()].sort((a, b) => (a.view.node < b.view.node ? -1 : 1)));
  for (const { read, rate, chart } of charts) chart.add(rate ? rates.next(view.nodes, read) : new Map(view.nodes.map((node) => [node.node, read(node)])));
  renderProcess($("process"), view.nodes, rates.next(view.nodes, (node) => node.process.gcSeconds), rates.next(view.nodes, (node) => node.process.cpuSeconds));
  rates.advance(view.nodes);
  renderTop($("top"), view.top, lookUp);
  $("updated").textContent = new Date(view.at).toLocaleTimeString();
}

function lookUp(topic: string): void {
  if (!topic || !channel) return;
  $<HTMLInputElement>("search-topic").value = topic;
  channel
    .push("topic", { topic })
    .receive("ok", (lookup: TopicLookup) => renderLookup($("lookup"), lookup))
    .receive("error", ({ reason }: { reason: string }) => ($("lookup").textContent = reason));
}
