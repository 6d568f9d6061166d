/**
 * Where a chaos client's connections go. phoenix.js reconnects to the URL it was given, so the
 * transport it is handed (the `ws` WebSocket) picks the port: the first attempt goes to the
 * client's home node, every later attempt to the next node of its list, round the list. Half
 * the clients go round the nodes upwards and half downwards, so the clients of a node that dies
 * split between the others, as a load balancer would spread them; a client that stays connected
 * stays where it is.
 */
import WebSocket from "ws";

export type TransportConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

/** `step` +1 or -1: the direction the client goes round `ports` from `home`. */
export function rotatingTransport(ports: readonly number[], home: number, step: 1 | -1, onAttempt: (node: number) => void): TransportConstructor {
  let next = home;
  return class RotatingWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      const node = next;
      next = (next + step + ports.length) % ports.length;
      const target = new URL(url);
      target.port = String(ports[node]);
      super(target.toString(), protocols);
      onAttempt(node);
    }
  };
}
