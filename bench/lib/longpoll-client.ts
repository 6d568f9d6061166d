/**
 * A load-client process for the longpoll benchmark: `count` clients of one transport in one
 * room, counting the `bench` broadcasts they receive and how long each took (its payload's `t`
 * to its arrival, both wall clocks of this machine). Driven by its parent over IPC:
 *   parent → {cmd: "start", …}  child → {ready: joined}
 *   parent → {cmd: "count"}     child → {count: deliveries}
 *   parent → {cmd: "report"}    child → {report: ClientReport}
 *   parent → {cmd: "stop"}      the child closes its clients and exits.
 * LongPoll clients speak raw HTTP over keep-alive connections (one poll in flight each, as
 * phoenix.js); WebSocket clients use `ws`.
 */
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

export interface StartCommand {
  cmd: "start";
  port: number;
  transport: "longpoll" | "websocket";
  count: number;
  topic: string;
}

export interface ClientReport {
  deliveries: number;
  /** ms from publish to arrival, one per delivery (at most MAX_SAMPLES, evenly kept). */
  latencies: number[];
  /** Protocol surprises: failed requests, bad statuses. */
  errors: number;
}

const MAX_SAMPLES = 200_000;
const JOIN = (topic: string) => JSON.stringify(["1", "1", topic, "phx_join", { user: "bench", presence: false }]);
const now = () => performance.timeOrigin + performance.now();

let deliveries = 0;
let errors = 0;
const latencies: number[] = [];
let stopping = false;
const closers: Array<() => void> = [];

function received(text: string): void {
  // Only broadcasts carry `"bench"`: replies and others are not counted.
  if (!text.includes('"bench"')) return;
  const frame = JSON.parse(text) as [unknown, unknown, string, string, { t: number }];
  if (frame[3] !== "bench") return;
  deliveries++;
  const latency = now() - frame[4].t;
  if (latencies.length < MAX_SAMPLES) latencies.push(latency);
  else latencies[deliveries % MAX_SAMPLES] = latency;
}

// ── LongPoll ──

const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

function http(port: number, method: "GET" | "POST", headers: Record<string, string>, body?: string): Promise<{ status: number; token?: string; messages?: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path: "/socket/longpoll?vsn=2.0.0", headers, agent }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        try {
          resolve(JSON.parse(text));
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function longPollClient(port: number, topic: string): Promise<void> {
  const handshake = await http(port, "GET", {});
  if (handshake.status !== 410 || !handshake.token) throw new Error(`handshake answered ${handshake.status}`);
  const headers = { "x-phoenix-longpoll-token": handshake.token };
  let joined!: () => void;
  const isJoined = new Promise<void>((resolve) => (joined = resolve));
  const loop = async () => {
    while (!stopping) {
      let answer;
      try {
        answer = await http(port, "GET", headers);
      } catch {
        if (!stopping) errors++;
        return;
      }
      if (answer.status === 200) {
        for (const message of answer.messages ?? []) {
          if (message.startsWith('["1","1"')) joined();
          else received(message);
        }
      } else if (answer.status !== 204) {
        errors++;
        return;
      }
    }
  };
  void loop();
  const posted = await http(port, "POST", { ...headers, "content-type": "application/x-ndjson" }, JOIN(topic));
  if (posted.status !== 200) throw new Error(`join post answered ${posted.status}`);
  await isJoined;
}

// ── WebSocket ──

function webSocketClient(port: number, topic: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket/websocket?vsn=2.0.0`);
    closers.push(() => ws.close());
    ws.on("open", () => ws.send(JOIN(topic)));
    ws.on("message", (data) => {
      const text = data.toString();
      if (text.startsWith('["1","1"')) resolve();
      else received(text);
    });
    ws.on("error", reject);
  });
}

/** Opens clients `inFlight` at a time, so a thousand handshakes do not land at once. */
async function openAll(command: StartCommand): Promise<number> {
  const open = command.transport === "longpoll" ? longPollClient : webSocketClient;
  let next = 0;
  let joined = 0;
  const lane = async () => {
    while (next++ < command.count) {
      await open(command.port, command.topic);
      joined++;
    }
  };
  await Promise.all(Array.from({ length: 50 }, lane));
  return joined;
}

process.on("message", (message: StartCommand | { cmd: "count" | "report" | "stop" }) => {
  const send = (reply: unknown) => process.send?.(reply);
  switch (message.cmd) {
    case "start":
      openAll(message).then(
        (joined) => send({ ready: joined }),
        (err: unknown) => send({ failed: String(err) }),
      );
      break;
    case "count":
      send({ count: deliveries });
      break;
    case "report":
      send({ report: { deliveries, latencies, errors } satisfies ClientReport });
      break;
    case "stop":
      stopping = true;
      for (const close of closers) close();
      agent.destroy();
      process.exit(0);
  }
});
