// Code written the way phoenix.js's documentation shows it, with only the import changed.
// The typing test compiles it under `strict`; it is never run.
import WebSocket from "ws";
import { Channel, Presence, Push, Socket } from "../../../client/index.js";
import { msgpackSerializer } from "../../../client/msgpack.js";

declare const userToken: string;

interface NewMsg {
  user: string;
  body: string;
}

interface OnlineMeta {
  online_at: string;
}

const socket = new Socket("/socket", {
  params: { token: userToken },
  logger: (kind, msg, data) => console.log(`${kind}: ${msg}`, data),
  reconnectAfterMs: (tries) => [1000, 5000][tries - 1] || 10000,
  rejoinAfterMs: (tries) => [1000, 2000][tries - 1] || 5000,
  heartbeatIntervalMs: 30000,
  timeout: 10000,
});
socket.connect();
socket.onOpen(() => console.log("open"));
socket.onError((error) => console.log("there was an error with the connection!", error));
socket.onClose((event) => console.log("the connection dropped", event.code));
const refs: string[] = [socket.onMessage((message) => console.log(message.topic, message.event, message.payload))];
socket.off(refs);

const channel: Channel = socket.channel("room:123", { token: userToken });
channel.on("new_msg", (msg: NewMsg) => console.log("Got message", msg.body));
const ref: number = channel.on<NewMsg>("new_msg", (msg) => console.log(msg.user));
channel.off("new_msg", ref);

const push: Push = channel
  .join()
  .receive("ok", ({ messages }: { messages: NewMsg[] }) => console.log("catching up", messages))
  .receive("error", ({ reason }: { reason: string }) => console.log("failed join", reason))
  .receive("timeout", () => console.log("Networking issue. Still waiting..."));
void push;

channel
  .push("new_msg", { body: "hello" }, 10000)
  .receive("ok", (msg) => console.log("created message", msg))
  .receive("error", (reasons) => console.log("create failed", reasons))
  .receive("timeout", () => console.log("Networking issue..."));

channel.onError(() => console.log("there was an error!"));
channel.onClose(() => console.log("the channel has gone away gracefully"));
channel.leave().receive("ok", () => console.log("left"));

const presence = new Presence<OnlineMeta>(channel);
presence.onJoin((id, current, newPres) => {
  if (!current) console.log("user has entered for the first time", newPres.metas[0].online_at);
  else console.log("user additional presence", newPres);
});
presence.onLeave((id, current, leftPres) => {
  if (current.metas.length === 0) console.log("user has left from all devices", leftPres);
});
presence.onSync(() => {
  const rows: string[] = presence.list((id, { metas: [first, ...rest] }) => `${id} ${first.online_at} (+${rest.length})`);
  console.log(rows);
});

let state = {};
state = Presence.syncState(state, { alice: { metas: [{ phx_ref: "1" }] } });
state = Presence.syncDiff(state, { joins: {}, leaves: { alice: { metas: [{ phx_ref: "1" }] } } });
console.log(Presence.list(state), socket.isConnected(), socket.connectionState(), socket.endPointURL());
socket.ping((latency) => console.log(latency));
socket.disconnect(() => console.log("closed"), 1000, "bye");

const binary = new Socket("/socket", { serializer: msgpackSerializer, binaryType: "arraybuffer", vsn: "2.0.0" });
binary.channel("files:1").push("upload", new ArrayBuffer(8));

// In Node before 22, the ws package's WebSocket fits the transport option as it is.
new Socket("ws://localhost:4000/socket", { transport: WebSocket }).connect();

// The types are real, not `any`: these must be rejected.
// @ts-expect-error heartbeatIntervalMs is a number
new Socket("/socket", { heartbeatIntervalMs: "30s" });
// @ts-expect-error a channel topic is a string
socket.channel(123);
// @ts-expect-error payloads are unknown until the code says what they are
channel.on("new_msg", (msg) => console.log(msg.body));
