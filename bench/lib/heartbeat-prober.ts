/**
 * A well-behaved client in a worker thread of its own, so that a bench process busy with other
 * sockets does not delay its timers: heartbeats every `everyMs` on a JSON socket to
 * `ws://127.0.0.1:<port>`, timing each until its reply; on "stop" posts the round trips (ms)
 * and how many heartbeats it sent.
 */
import { parentPort, workerData } from "node:worker_threads";
import WebSocket from "ws";

const { port, everyMs } = workerData as { port: number; everyMs: number };
const ws = new WebSocket(`ws://127.0.0.1:${port}/socket/websocket?vsn=2.0.0`);
const rtts: number[] = [];
const sent = new Map<string, number>();
let timer: NodeJS.Timeout | undefined;
let n = 0;
ws.on("message", (data: Buffer) => {
  const [, ref] = JSON.parse(data.toString()) as [unknown, string];
  const at = sent.get(ref);
  if (at !== undefined) rtts.push(performance.now() - at);
  sent.delete(ref);
});
ws.once("open", () => {
  parentPort?.postMessage({ k: "ready" });
  timer = setInterval(() => {
    const ref = `h${n++}`;
    sent.set(ref, performance.now());
    ws.send(JSON.stringify([null, ref, "phoenix", "heartbeat", {}]));
  }, everyMs);
});
parentPort?.on("message", () => {
  clearInterval(timer);
  ws.close();
  parentPort?.postMessage({ k: "rtts", rtts, sent: n });
  parentPort?.close();
});
