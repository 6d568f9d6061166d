/**
 * A steady, modest load for the dashboard benchmark: sockets spread over a few `bench:` topics
 * (a third of them in the presence list), one message a topic every `periodMs`, a few sockets
 * leaving and rejoining each second, so every chart of the page moves, and heartbeats.
 */
import { openSockets, type PhoenixSocket } from "./history-ws.js";

export interface DashboardLoad {
  stop(): Promise<void>;
}

interface Member {
  socket: PhoenixSocket;
  topic: string;
  joinRef: string;
  params: Record<string, unknown>;
}

export async function startDashboardLoad(port: number, sockets: number, topics: number, periodMs: number): Promise<DashboardLoad> {
  const opened = await openSockets(port, sockets);
  const members: Member[] = await Promise.all(
    opened.map(async (socket, i) => {
      // Topics of falling sizes, so the top list has an order.
      const topic = `bench:topic-${Math.floor(Math.sqrt((i * topics * topics) / sockets))}`;
      const params = { user: `user-${i}`, presence: i % 3 === 0 };
      const { joinRef } = await socket.join(topic, params);
      return { socket, topic, joinRef, params };
    }),
  );
  const senders = new Map<string, Member>();
  for (const member of members) if (!senders.has(member.topic)) senders.set(member.topic, member);
  let tick = 0;
  const messages = setInterval(() => {
    for (const sender of senders.values()) sender.socket.push(sender.topic, sender.joinRef, "new_msg", { body: `message ${tick}` });
    tick++;
  }, periodMs);
  const churn = setInterval(() => {
    for (let i = 0; i < 5; i++) {
      const member = members[Math.floor(Math.random() * members.length)];
      if (senders.get(member.topic) === member) continue;
      member.socket.push(member.topic, member.joinRef, "phx_leave", {});
      void member.socket.join(member.topic, member.params).then(({ joinRef }) => (member.joinRef = joinRef));
    }
  }, 1000);
  // As phoenix.js does: without inbound data the server closes a socket after idleTimeoutMs (60 s).
  const heartbeats = setInterval(() => {
    for (const socket of opened) socket.push("phoenix", "", "heartbeat", {});
  }, 20_000);
  return {
    async stop() {
      clearInterval(messages);
      clearInterval(churn);
      clearInterval(heartbeats);
      await Promise.all(opened.map((socket) => socket.close()));
    },
  };
}
