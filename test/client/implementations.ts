import * as phoenix from "phoenix";
import * as cinder from "../../client/index.js";
import type { TransportConstructor } from "../../client/index.js";
import { FakeTransport } from "./fake-transport.js";

export type SocketClass = typeof cinder.Socket;

/**
 * The state-machine tests run against our client and against the official phoenix.js client:
 * the same test passing on both is what "same behaviour" means. Phoenix's class is used through
 * our types; its runtime API is the same.
 */
export const implementations: [string, SocketClass][] = [
  ["cinder", cinder.Socket],
  ["phoenix", phoenix.Socket as unknown as SocketClass],
];

export const fakeTransport = FakeTransport as unknown as TransportConstructor;
