import { Presence, type Channel } from "phoenix";
import { describe, expect, it } from "vitest";
import { freePort } from "../support/node-process.js";
import { perTest } from "../support/opened.js";
import { holdReconnects } from "../support/phoenix-channel.js";
import type { RawClient } from "../support/raw-client.js";
import { waitFor } from "../support/wait.js";

const opened = perTest();
const PROBE = { workers: 2, app: "probe-app.mjs" };

/** Opens raw sockets until both worker threads hold at least one; returns them by thread. */
async function clientsOnBothWorkers(port: number, perWorker = 2): Promise<Map<number, RawClient[]>> {
  const byThread = new Map<number, RawClient[]>();
  for (let i = 0; i < 60 && ![...byThread.values()].every((c) => c.length >= perWorker) || byThread.size < 2; i++) {
    const client = await opened.raw({ port });
    const { thread } = await client.joined<{ thread: number }>("probe:who", {}, "p");
    const list = byThread.get(thread) ?? [];
    list.push(client);
    byThread.set(thread, list);
  }
  expect(byThread.size).toBe(2);
  return byThread;
}

function phoenixMember(port: number, user: string) {
  const socket = opened.phoenix(port);
  const room: Channel = socket.channel("room:w", { user });
  const presence = new Presence(room);
  const probe = socket.channel("probe:who", {});
  let thread = -1;
  let joins = 0;
  probe.join().receive("ok", (r: { thread: number }) => (thread = r.thread));
  room.join().receive("ok", () => joins++);
  const users = () => presence.list((key) => key as string).sort().join(",");
  return { socket, room, probe, presence, users, thread: () => thread, joins: () => joins };
}

/** phoenix.js members `user0`, `user1`, … joined to room:w until both workers hold at least one. */
async function membersOnBothWorkers(port: number): Promise<Array<ReturnType<typeof phoenixMember>>> {
  const members: Array<ReturnType<typeof phoenixMember>> = [];
  for (let i = 0; i < 40 && new Set(members.map((m) => m.thread())).size < 2; i++) {
    const member = phoenixMember(port, `user${i}`);
    members.push(member);
    await waitFor(() => member.thread() !== -1 && member.joins() === 1, "member to join");
  }
  return members;
}

describe("worker threads", () => {
  it("spreads sockets over the workers and reports each in /health", async () => {
    const node = await opened.node(PROBE);
    const byThread = await clientsOnBothWorkers(node.port, 1);
    const health = await (await fetch(`http://127.0.0.1:${node.port}/health`)).json();
    const total = [...byThread.values()].reduce((n, list) => n + list.length, 0);
    expect(health.workers).toHaveLength(2);
    expect(health.sockets).toBe(total);
    expect(health.workers.every((w: { sockets: number }) => w.sockets >= 1)).toBe(true);
  });

  it("delivers a broadcast from a client on each worker to every client, once", async () => {
    const node = await opened.node(PROBE);
    const byThread = await clientsOnBothWorkers(node.port);
    const all = [...byThread.values()].flat();
    for (const [i, client] of all.entries()) {
      client.send(["r", "r", "room:fan", "phx_join", { user: `u${i}`, presence: false }]);
      await client.reply("r");
    }
    const senders = [...byThread.values()].map((list) => list[0]);
    senders.forEach((sender, i) => sender.send(["r", `m${i}`, "room:fan", "new_msg", { body: `from worker ${i}` }]));
    // Then a marker from each: a worker's broadcasts keep their order, so once a client has both
    // markers, any duplicate of the first messages would be in too.
    senders.forEach((sender, i) => sender.send(["r", `k${i}`, "room:fan", "new_msg", { body: `marker ${i}` }]));
    const bodies = (client: RawClient) => client.frames.filter((f) => f[3] === "new_msg").map((f) => (f[4] as { body: string }).body);
    for (const client of all) await waitFor(() => bodies(client).includes("marker 0") && bodies(client).includes("marker 1"), "both markers");
    for (const client of all) expect(bodies(client).sort()).toEqual(["from worker 0", "from worker 1", "marker 0", "marker 1"]);
  });

  it("reports the node's distinct topics in /health, not one worker's count", async () => {
    const node = await opened.node(PROBE);
    const byThread = await clientsOnBothWorkers(node.port, 1);
    const [a, b] = [...byThread.values()].map((list) => list[0]);
    // Both workers: room:both; worker a only: room:a1, room:a2; worker b only: room:b1. Plus probe:who on both.
    const joins: Array<[RawClient, string]> = [
      [a, "room:both"],
      [b, "room:both"],
      [a, "room:a1"],
      [a, "room:a2"],
      [b, "room:b1"],
    ];
    for (const [i, [client, topic]] of joins.entries()) {
      client.send([`t${i}`, `t${i}`, topic, "phx_join", { user: "u", presence: false }]);
      await client.reply(`t${i}`);
    }
    for (let i = 0; i < 4; i++) {
      const health = await (await fetch(`http://127.0.0.1:${node.port}/health`)).json();
      expect(health.topics).toBe(5);
      expect(health.workers.map((w: { topics: number }) => w.topics).sort()).toEqual([3, 4]);
    }
  });

  it("logs an unhandled rejection and goes on serving, with one worker and with two", async () => {
    for (const workers of [1, 2]) {
      const node = await opened.node({ workers, app: "probe-app.mjs" });
      const client = await opened.joinedClient(node, "probe:who", {}, "p");
      client.send(["p", "r", "probe:who", "reject", {}]);
      await client.reply("r");
      await waitFor(() => node.output.includes("unhandled promise rejection"), "the rejection to be logged");
      client.send(["p", "again", "probe:who", "ping", {}]);
      expect((await client.reply("again"))[4]).toMatchObject({ status: "ok" });
      expect(node.output).not.toContain("worker crashed");
      expect(node.exitCode).toBeUndefined();
    }
  });

  it("routes each newly joined topic to its worker, through join/leave churn", async () => {
    const node = await opened.node(PROBE);
    const byThread = await clientsOnBothWorkers(node.port, 1);
    const [a, b] = [...byThread.values()].map((list) => list[0]);
    for (let i = 0; i < 15; i++) {
      const topic = `room:churn${i % 3}`;
      b.send([`b${i}`, `b${i}`, topic, "phx_join", { user: "b", presence: false }]);
      await b.reply(`b${i}`);
      a.send([`a${i}`, `a${i}`, topic, "phx_join", { user: "a", presence: false }]);
      await a.reply(`a${i}`);
      // Published on the other worker right after a's join reply: a must get it.
      b.send([`b${i}`, `m${i}`, topic, "new_msg", { body: `n${i}` }]);
      await a.next((f) => f[2] === topic && (f[4] as { body?: string }).body === `n${i}`, `message ${i} on the other worker`);
      a.send([`a${i}`, `la${i}`, topic, "phx_leave", {}]);
      b.send([`b${i}`, `lb${i}`, topic, "phx_leave", {}]);
      await a.reply(`la${i}`);
      await b.reply(`lb${i}`);
    }
    const health = await (await fetch(`http://127.0.0.1:${node.port}/health`)).json();
    // Only the probe channels remain: the churned topics left nothing behind.
    expect(health.channels).toBe([...byThread.values()].flat().length);
  });

  it("shows presence tracked on one worker to clients on the other, and its leave", async () => {
    const node = await opened.node(PROBE);
    const members = await membersOnBothWorkers(node.port);
    const [a, b] = [members[0], members.find((m) => m.thread() !== members[0].thread())!];
    expect(a.thread()).not.toBe(b.thread());
    const everyone = members.map((_, i) => `user${i}`).sort().join(",");
    await waitFor(() => a.users() === everyone && b.users() === everyone, "every member on both workers");
    b.room.leave();
    const withoutB = members.filter((m) => m !== b).map((m) => `user${members.indexOf(m)}`).sort().join(",");
    await waitFor(() => a.users() === withoutB, "b's leave to reach a, on the other worker");
  });

  it("replaces a crashed worker: its presences leave, its clients come back", async () => {
    const node = await opened.node(PROBE);
    const members = await membersOnBothWorkers(node.port);
    const victim = members[members.length - 1];
    const survivor = members.find((m) => m.thread() !== victim.thread())!;
    const victimThread = victim.thread();
    const onVictim = members.filter((m) => m.thread() === victimThread);
    const names = (list: typeof members) => list.map((m) => `user${members.indexOf(m)}`).sort().join(",");
    await waitFor(() => survivor.users() === names(members), "everyone present");

    // Its clients stay away until the test has seen the leave, then come back.
    for (const m of onVictim) holdReconnects(m.socket);
    victim.probe.push("crash", {});
    await waitFor(() => survivor.users() === names(members.filter((m) => !onVictim.includes(m))), "the crashed worker's presences to leave");
    for (const m of onVictim) m.socket.disconnect(() => m.socket.connect());
    await waitFor(() => onVictim.every((m) => m.joins() === 2), "its clients to rejoin", 10_000);
    await waitFor(() => survivor.users() === names(members), "them to be present again");
    await waitFor(async () => (await (await fetch(`http://127.0.0.1:${node.port}/health`)).json()).workers?.length === 2, "the worker to be replaced");
    expect(node.output).toContain("worker crashed");
  });

  it("gives a newcomer on a worker that replaced a crashed one a first presence_state with its sibling's members", async () => {
    const node = await opened.node(PROBE);
    const members = await membersOnBothWorkers(node.port);
    const survivorThread = members[0].thread();
    const onSurvivor = members.filter((m) => m.thread() === survivorThread);
    // The other worker's members go for good: nothing changes in the room from here on, so only
    // the new worker's own start can give it the survivor's members.
    for (const m of members) if (m.thread() !== survivorThread) m.socket.disconnect();
    const stay = onSurvivor.map((m) => `user${members.indexOf(m)}`);
    await waitFor(() => onSurvivor[0].users() === [...stay].sort().join(","), "the other worker's members to leave");
    const listening = () => node.output.split("\n").filter((line) => line.includes('"msg":"listening"')).length;
    expect(listening()).toBe(2);
    // A raw socket (it does not come back) on the other worker crashes it.
    const [victim] = [...(await clientsOnBothWorkers(node.port, 1))].find(([thread]) => thread !== survivorThread)![1];
    victim.send(["p", "c", "probe:who", "crash", {}]);
    await waitFor(() => listening() === 3, "the new worker to listen", 15_000);
    // A socket on the new worker, found with the probe only (no presence), then joins the room.
    let newcomer: RawClient | undefined;
    for (let i = 0; i < 40 && !newcomer; i++) {
      const client = await opened.raw(node);
      const { thread } = await client.joined<{ thread: number }>("probe:who");
      if (thread !== survivorThread) newcomer = client;
    }
    expect(newcomer, "a socket on the new worker").toBeDefined();
    await newcomer!.join("room:w", { user: "newcomer" });
    const [, , , , first] = await newcomer!.next((frame) => frame[3] === "presence_state", "the newcomer's first presence_state");
    expect(Object.keys(first as object).sort()).toEqual([...stay, "newcomer"].sort());
  });

  it("drains on SIGTERM: clients get 1001, the process exits 0, clients reconnect to the next server", async () => {
    const port = await freePort();
    const node = await opened.node({ ...PROBE, port });
    const byThread = await clientsOnBothWorkers(port, 1);
    const member = phoenixMember(port, "stays");
    await waitFor(() => member.joins() === 1, "join");
    expect(await node.stop("SIGTERM")).toBe(0);
    for (const client of [...byThread.values()].flat()) expect((await client.closed()).code).toBe(1001);
    await opened.node({ ...PROBE, port });
    await waitFor(() => member.joins() === 2, "rejoin on the new server", 10_000);
  });
});
