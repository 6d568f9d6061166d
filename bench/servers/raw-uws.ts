/**
 * The ceiling: a bare uWebSockets.js pub/sub server that speaks just enough
 * Phoenix V2 JSON for the load client (join → subscribe, new_msg → app.publish
 * with the same broadcast frame shape Cinder sends, heartbeat/other → ok reply).
 * No channels, no presence, no per-message routing beyond one JSON.parse.
 *
 * With `redisUrl`, several such processes form one pub/sub the way Cinder nodes do through
 * Redis: a process subscribes to a topic's Redis channel when its first socket joins the topic,
 * and a broadcast is published locally and to Redis once, tagged with its sender so the sender
 * skips its own copy. The payload crosses Redis as the very frame the sockets get.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { loadNativeUws } from "../../server/native-uws.js";
import type { us_listen_socket, WebSocket } from "../../server/uws-types.js";

import type { BaselineServer } from "./baseline-server.js";

interface SocketData {
  user: string;
}

type Frame = [string | null, string | null, string, string, Record<string, unknown>];

function reply(ws: WebSocket<SocketData>, frame: Frame, response: Record<string, unknown> = {}): void {
  ws.send(JSON.stringify([frame[0], frame[1], frame[2], "phx_reply", { status: "ok", response }]));
}

export interface RawUwsOptions {
  /** Fan out across processes through this Redis (redis://host:port). */
  redisUrl?: string;
}

/** Cross-process fan-out through Redis: one channel per topic, the sender's id before the frame. */
class RedisFanout {
  private readonly sender = randomBytes(6).toString("hex");
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly subscribed = new Set<string>();

  constructor(url: string, deliver: (topic: string, frame: string) => void) {
    this.publisher = new Redis(url, { maxRetriesPerRequest: 1 });
    this.subscriber = new Redis(url, { maxRetriesPerRequest: 1 });
    this.subscriber.on("message", (channel: string, message: string) => {
      const cut = message.indexOf(" ");
      if (message.slice(0, cut) === this.sender) return;
      deliver(channel.slice(CHANNEL_PREFIX.length), message.slice(cut + 1));
    });
  }

  /** Resolves once Redis routes the topic here: the join reply waits for it, as in Cinder. */
  interest(topic: string): Promise<void> | undefined {
    if (this.subscribed.has(topic)) return undefined;
    this.subscribed.add(topic);
    return this.subscriber.subscribe(CHANNEL_PREFIX + topic).then(() => undefined);
  }

  publish(topic: string, frame: string): void {
    void this.publisher.publish(CHANNEL_PREFIX + topic, `${this.sender} ${frame}`).catch(() => {});
  }

  close(): void {
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }
}

const CHANNEL_PREFIX = "raw:t:";

export async function startRawUwsServer(port: number, host: string, options: RawUwsOptions = {}): Promise<BaselineServer> {
  // The same native build Cinder loads on this Node (never the JS fallback, which would make the
  // ceiling meaningless), so Cinder ÷ raw uWS compares like with like on each runtime.
  const uWS = loadNativeUws();
  const app = uWS.App();
  const fanout = options.redisUrl ? new RedisFanout(options.redisUrl, (topic, frame) => void app.publish(topic, frame)) : undefined;
  // Kept only so close() can end the open sockets; uWS has no app-wide close here.
  const open = new Set<WebSocket<SocketData>>();
  app.ws<SocketData>("/socket/websocket", {
    idleTimeout: 60,
    maxPayloadLength: 64 * 1024,
    upgrade: (res, req, context) => {
      const user = new URLSearchParams(req.getQuery() ?? "").get("user") ?? "anonymous";
      res.upgrade<SocketData>(
        { user },
        req.getHeader("sec-websocket-key"),
        req.getHeader("sec-websocket-protocol"),
        req.getHeader("sec-websocket-extensions"),
        context,
      );
    },
    open: (ws) => void open.add(ws),
    close: (ws) => void open.delete(ws),
    message: (ws, message) => {
      let frame: Frame;
      try {
        frame = JSON.parse(Buffer.from(message).toString("utf8")) as Frame;
      } catch {
        ws.end(1003, "bad frame");
        return;
      }
      const [, , topic, event, payload] = frame;
      if (event === "phx_join") {
        const routed = fanout?.interest(topic);
        if (!routed) {
          ws.subscribe(topic);
          reply(ws, frame);
          return;
        }
        routed.then(() => {
          if (!open.has(ws)) return;
          ws.subscribe(topic);
          reply(ws, frame);
        }, () => ws.end(1011, "redis"));
      } else if (event === "new_msg") {
        const broadcast = JSON.stringify([null, null, topic, "new_msg", { user: ws.getUserData().user, body: payload.body }]);
        // app.publish (not ws.publish) so the sender also receives it, as in Phoenix broadcast/3.
        app.publish(topic, broadcast);
        fanout?.publish(topic, broadcast);
        reply(ws, frame);
      } else if (event === "phx_leave") {
        ws.unsubscribe(topic);
        reply(ws, frame);
      } else {
        reply(ws, frame);
      }
    },
  });
  app.get("/health", (res) => {
    res.writeHeader("content-type", "application/json").end('{"status":"ok"}');
  });
  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(host, port, (socket) => (socket ? resolve(socket) : reject(new Error(`cannot listen on ${host}:${port}`))));
  });
  return {
    port: uWS.us_socket_local_port(listenSocket),
    close: async () => {
      uWS.us_listen_socket_close(listenSocket);
      fanout?.close();
      for (const ws of [...open]) ws.close();
    },
  };
}
