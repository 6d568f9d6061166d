/**
 * The benchmark machinery works end to end: the native load client builds,
 * connects, joins, publishes and sees every broadcast reach every subscriber
 * on each server it compares. Asserts completeness only, never speed.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";

import type { LoadReport } from "../../bench/lib/load-report.js";
import { buildNativeClient, type LoadClientOptions, runNativeClient } from "../../bench/lib/native-client.js";
import type { BaselineServer } from "../../bench/servers/baseline-server.js";
import { startRawUwsServer } from "../../bench/servers/raw-uws.js";
import { startSocketIoServer } from "../../bench/servers/socketio.js";
import { BENCH_JOIN_PAYLOAD } from "../../bench/lib/targets.js";
import { createServer, roomChannel } from "../../server/index.js";
import { measureTransport, startLongPollServer } from "../../bench/lib/longpoll-load.js";

const SOCKETS = 20;
const BROADCASTS = 10;
const PHOENIX_PATH = "/socket/websocket?vsn=2.0.0&user=smoke";

function tinyFanout(port: number, protocol: LoadClientOptions["protocol"], path: string): Promise<LoadReport> {
  return runNativeClient({
    port,
    path,
    protocol,
    sockets: SOCKETS,
    topics: 1,
    joinPayload: BENCH_JOIN_PAYLOAD,
    inflight: [4],
    messages: BROADCASTS,
    durationSeconds: 10,
    settleSeconds: 0,
    drainSeconds: 2,
  });
}

function expectComplete(report: LoadReport): void {
  expect(report.connect).toMatchObject({ connected: SOCKETS, failed: 0 });
  expect(report.join).toMatchObject({ joined_sockets: SOCKETS, subscriptions: SOCKETS, errors: 0 });
  const [round] = report.rounds;
  expect(round).toMatchObject({ broadcasts: BROADCASTS, missing: 0, incomplete_broadcasts: 0 });
  expect(round.deliveries).toBe(SOCKETS * BROADCASTS);
  expect(report.protocol_errors).toBe(0);
}

describe("bench smoke", () => {
  let stop: (() => Promise<void>) | undefined;

  beforeAll(() => {
    buildNativeClient();
  });

  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  const baseline = async (start: (port: number, host: string) => Promise<BaselineServer>): Promise<number> => {
    const server = await start(0, "127.0.0.1");
    stop = () => server.close();
    return server.port;
  };

  it("delivers every broadcast from the raw uWS baseline", async () => {
    expectComplete(await tinyFanout(await baseline(startRawUwsServer), "phoenix", PHOENIX_PATH));
  });

  it("delivers every broadcast from the Socket.IO baseline", async () => {
    const port = await baseline(startSocketIoServer);
    expectComplete(await tinyFanout(port, "engineio", "/socket.io/?EIO=4&transport=websocket&user=smoke"));
  });

  it("delivers every broadcast from Cinder", async () => {
    const server = createServer({
      port: 0,
      host: "127.0.0.1",
      logLevel: "silent",
      // The load client joins bench:* topics, as the demo app serves them (chat without history).
      channels: { "bench:*": roomChannel },
    });
    await server.listen();
    stop = () => server.close();
    expectComplete(await tinyFanout(server.port, "phoenix", PHOENIX_PATH));
  });

  it("delivers every broadcast to LongPoll and WebSocket clients in the longpoll scenario", async () => {
    const options = { clients: 20, processes: 1, broadcasts: 10, rate: 50, drainSeconds: 10 };
    for (const transport of ["longpoll", "websocket"] as const) {
      const server = await startLongPollServer(undefined);
      stop = () => server.stop();
      const result = await measureTransport(server, transport, options, "room:smoke");
      expect(result).toMatchObject({ transport, deliveries: 200, expected: 200, clientErrors: 0 });
      await server.stop();
      stop = undefined;
    }
  }, 60_000);
});
