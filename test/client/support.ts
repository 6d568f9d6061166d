import WebSocket from "ws";
import { Socket, type Channel, type ClientSerializer, type Push, type SocketOptions, type TransportConstructor } from "../../client/index.js";
import { msgpackSerializer } from "../../client/msgpack.js";
import { error, noReply, ok, type ChannelHandler } from "../../server/index.js";

/** The `ws` package's WebSocket: Node 20 has no global one. */
export const wsTransport: TransportConstructor = WebSocket;

/** The two wire formats every integration test runs over; `undefined` means the default (V2 JSON). */
export const serializers: [string, ClientSerializer | undefined][] = [
  ["json", undefined],
  ["msgpack", msgpackSerializer],
];

export interface Outcome {
  status: string;
  response: unknown;
}

/** Whatever a push (or join) receives first: ok, error, timeout or another reply status. */
export function outcome(push: Pick<Push, "receive">, statuses: string[] = ["ok", "error", "timeout"]): Promise<Outcome> {
  return new Promise((resolve) => {
    for (const status of statuses) push.receive(status, (response: unknown) => resolve({ status, response }));
  });
}

/** Our client (cinder/client) to a server on `port`, over the `ws` WebSocket unless `options` say otherwise, connected, retrying fast. */
export function cinderSocket(port: number, options: SocketOptions = {}): Socket {
  const socket = new Socket(`ws://127.0.0.1:${port}/socket`, { transport: wsTransport, reconnectAfterMs: () => 50, rejoinAfterMs: () => 50, timeout: 5000, ...options });
  socket.connect();
  return socket;
}

/** Joins and resolves with the join reply's response; rejects on error or timeout. */
export async function joined(channel: Channel): Promise<unknown> {
  const { status, response } = await outcome(channel.join());
  if (status !== "ok") throw Object.assign(new Error(`join ${channel.topic}: ${status}`), { response });
  return response;
}

/** Bytes of a binary payload, whichever way it arrived (ArrayBuffer in JSON V2, Uint8Array in msgpack). */
export function bytesOf(payload: unknown): number[] {
  if (payload instanceof ArrayBuffer) return [...new Uint8Array(payload)];
  if (ArrayBuffer.isView(payload)) return [...new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)];
  throw new Error(`not a binary payload: ${JSON.stringify(payload)}`);
}

/**
 * A test channel beside the demo room:
 * join replies `{topic, params}` (or refuses when `params.refuse`); `silent` never gets a reply;
 * `bytes` replies the bytes reversed and broadcasts them each plus one, both as Uint8Array;
 * `buffer` does the same with ArrayBuffers; `echo` replies `{echo: payload}`;
 * anything else is an error reply.
 */
export const echoChannel: ChannelHandler = {
  join(topic, params) {
    if (params.refuse) return error({ reason: "refused" });
    return ok({ topic, params });
  },
  handleIn(event, payload, socket) {
    switch (event) {
      case "silent":
        return noReply();
      case "bytes":
      case "buffer": {
        const bytes = new Uint8Array(payload as ArrayBuffer);
        const reversed = bytes.slice().reverse();
        const plusOne = bytes.map((b) => b + 1);
        if (event === "bytes") {
          socket.broadcast("bytes", plusOne);
          return ok(reversed);
        }
        socket.broadcast("bytes", plusOne.buffer);
        return ok(reversed.buffer);
      }
      case "echo":
        return ok({ echo: payload });
      default:
        return error({ reason: `unknown event ${event}` });
    }
  },
};
