import { Socket } from "phoenix";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ok, type ChannelHandler, type CinderServer } from "../../server/index.js";
import { metricOf } from "../support/metrics.js";
import { perTest } from "../support/opened.js";
import { RawClient } from "../support/raw-client.js";
import { socketUrl } from "../support/server.js";
import { waitFor } from "../support/wait.js";

const opened = perTest();

/** A channel whose joins wait until the test lets them through: joins in progress, for as long as the test wants. */
function heldJoins(): { channel: ChannelHandler; release: () => void } {
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  return {
    channel: {
      join: async () => {
        await held;
        return ok();
      },
    },
    release,
  };
}

/** A raw client whose join of `slow:a` is in progress on `server`, the only one. */
async function joinInProgress(server: CinderServer): Promise<RawClient> {
  const client = await opened.raw(server);
  client.send(["1", "1", "slow:a", "phx_join", {}]);
  await waitFor(async () => (await inProgress(server)) === 1, "a join in progress");
  return client;
}

const inProgress = (server: { metricsText(): Promise<string> }) => metricOf(server, "cinder_joins_in_progress");
const refused = (server: { metricsText(): Promise<string> }) => metricOf(server, "cinder_connects_rejected_total", { reason: "saturated" });

describe("a thread saturated with joins (maxPendingJoins)", () => {
  it("refuses a new WebSocket at once with 503, counted; phoenix.js retries with its backoff and gets in once the joins are answered", async () => {
    const { channel, release } = heldJoins();
    const server = await opened.server({ maxPendingJoins: 2, channels: { "slow:*": channel } });
    const first = await opened.raw(server);
    first.send(["1", "1", "slow:a", "phx_join", {}]);
    expect(await RawClient.upgradeStatus(socketUrl(server))).toBe(101); // one join in progress: under the bound
    const second = await opened.raw(server);
    second.send(["1", "1", "slow:b", "phx_join", {}]);
    await waitFor(async () => (await inProgress(server)) === 2, "two joins in progress");

    expect(await RawClient.upgradeStatus(socketUrl(server))).toBe(503);
    expect(await refused(server)).toBe(1);

    // The official client, with its default reconnect backoff (10, 50, 100, … ms).
    const phoenix = opened.socket(new Socket(`ws://127.0.0.1:${server.port}/socket`, { transport: WebSocket as unknown as typeof globalThis.WebSocket }));
    let errors = 0;
    phoenix.onError(() => {
      errors++;
    });
    phoenix.connect();
    await waitFor(() => errors >= 2, "phoenix.js refused, and refused again on its retry");
    expect(phoenix.isConnected()).toBe(false);
    expect(await refused(server)).toBeGreaterThanOrEqual(3);

    release();
    await first.reply("1");
    await second.reply("1");
    await waitFor(() => phoenix.isConnected(), "phoenix.js to get in once the joins are answered");
    expect(await inProgress(server)).toBe(0);
  });

  it("a join in progress whose socket closes is no longer counted", async () => {
    const { channel, release } = heldJoins();
    const server = await opened.server({ maxPendingJoins: 1, channels: { "slow:*": channel } });
    const client = await joinInProgress(server);
    expect(await RawClient.upgradeStatus(socketUrl(server))).toBe(503);
    client.close();
    await waitFor(async () => (await inProgress(server)) === 0, "the closed socket's join to be forgotten");
    expect(await RawClient.upgradeStatus(socketUrl(server))).toBe(101);
    release();
  });

  it("0: no bound", async () => {
    const { channel, release } = heldJoins();
    const server = await opened.server({ maxPendingJoins: 0, channels: { "slow:*": channel } });
    await joinInProgress(server);
    expect(await RawClient.upgradeStatus(socketUrl(server))).toBe(101);
    release();
  });
});
