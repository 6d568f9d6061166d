import { LongPoll, Socket } from "phoenix";
import { request as httpRequest } from "node:http";

export { collect, joined, pushed } from "../support/phoenix-channel.js";

/**
 * phoenix.js's own LongPoll transport, sending each request to the next of `ports` in turn:
 * what a load balancer without sticky sessions does to a LongPoll client.
 */
export function roundRobinLongPoll(ports: readonly number[]): typeof LongPoll {
  let next = 0;
  return class RoundRobinLongPoll extends LongPoll {
    override endpointURL(): string {
      const url = new URL(super.endpointURL());
      url.port = String(ports[next++ % ports.length]);
      return url.toString();
    }
  };
}

export interface ClientOptions {
  params?: Record<string, string>;
  /** Ports to spread the LongPoll requests over (default: only `port`). */
  ports?: number[];
  authToken?: string;
}

/** A phoenix.js socket on the LongPoll transport (or the WebSocket one), reconnecting fast. */
export function longPollSocket(port: number, options: ClientOptions = {}): Socket {
  const socket = new Socket(`ws://127.0.0.1:${port}/socket`, {
    transport: options.ports ? roundRobinLongPoll(options.ports) : LongPoll,
    params: options.params ?? {},
    authToken: options.authToken,
    reconnectAfterMs: () => 50,
    rejoinAfterMs: () => 50,
    timeout: 5000,
  } as ConstructorParameters<typeof Socket>[1]);
  socket.connect();
  return socket;
}

/**
 * A `fetch` for phoenix.js that opens a new TCP connection for every request: on a node with
 * several workers the kernel spreads connections over them (SO_REUSEPORT), so a client's polls
 * and posts land on workers that do not own its session, as behind a load balancer.
 */
export const fetchOnFreshConnections: typeof fetch = (input, init = {}) =>
  new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => (headers[key] = value));
    const req = httpRequest(String(input), { method: init.method ?? "GET", headers, agent: false, signal: init.signal ?? undefined }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0 })));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(typeof init.body === "string" ? init.body : undefined);
  });
