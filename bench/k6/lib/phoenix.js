// Phoenix V2 JSON frames and env helpers shared by the Cinder k6 scenarios.
// A frame is [join_ref, ref, topic, event, payload]; refs are strings.

export function envInt(name, fallback) {
  const raw = __ENV[name];
  return raw === undefined || raw === "" ? fallback : parseInt(raw, 10);
}

export function envNum(name, fallback) {
  const raw = __ENV[name];
  return raw === undefined || raw === "" ? fallback : parseFloat(raw);
}

export function envStr(name, fallback) {
  const raw = __ENV[name];
  return raw === undefined || raw === "" ? fallback : raw;
}

/**
 * URL of the socket endpoint, e.g. ws://127.0.0.1:4000/socket/websocket, or several separated by
 * commas: socket number i connects to the (i mod n)-th. Several server addresses let one client
 * machine open more sockets than one (source, destination) address pair has ephemeral ports.
 */
export const BASE_URLS = envStr("URL", "ws://127.0.0.1:4000/socket/websocket")
  .split(",")
  .map((u) => u.trim())
  .filter((u) => u !== "");

/** `index` picks one of the URLs (any integer; the socket's number in the whole test spreads them evenly). */
export function socketUrl(user, index) {
  const base = BASE_URLS[(index || 0) % BASE_URLS.length];
  const sep = base.includes("?") ? "&" : "?";
  return `${base}${sep}user=${encodeURIComponent(user)}&vsn=2.0.0`;
}

export function topicName(index) {
  return `${envStr("TOPIC_PREFIX", "room:k6-")}${index}`;
}

export function joinFrame(joinRef, topic, params) {
  return JSON.stringify([joinRef, joinRef, topic, "phx_join", params]);
}

export function leaveFrame(joinRef, ref, topic) {
  return JSON.stringify([joinRef, ref, topic, "phx_leave", {}]);
}

export function pushFrame(joinRef, ref, topic, event, payload) {
  return JSON.stringify([joinRef, ref, topic, event, payload]);
}

export function heartbeatFrame(ref) {
  return JSON.stringify([null, ref, "phoenix", "heartbeat", {}]);
}

/** Returns {joinRef, ref, topic, event, payload} or null for anything that is not a V2 frame. */
export function parseFrame(data) {
  let f;
  try {
    f = JSON.parse(data);
  } catch (_) {
    return null;
  }
  if (!Array.isArray(f) || f.length < 5) return null;
  return { joinRef: f[0], ref: f[1], topic: f[2], event: f[3], payload: f[4] };
}

/** Body of `size` bytes that starts with the send time in ms: "t=<ms>;xxxx..." */
export function timestampedBody(size) {
  const head = `t=${Date.now()};`;
  return head.length >= size ? head : head + "x".repeat(size - head.length);
}

/** Send time carried by timestampedBody, or NaN. */
export function bodySentAt(body) {
  if (typeof body !== "string" || !body.startsWith("t=")) return NaN;
  return parseInt(body.slice(2), 10);
}

/**
 * Joins, heartbeats and refs for one socket: a `k6/ws` socket, or a `k6/experimental/websockets`
 * WebSocket (same `send`); `startHeartbeat` needs the former's `setInterval`.
 */
export class PhoenixSocket {
  constructor(socket) {
    this.socket = socket;
    this.nextRef = 1;
    this.pending = new Map(); // ref -> {sentAt, onReply}
  }

  ref() {
    return String(this.nextRef++);
  }

  join(topic, params, onReply) {
    const ref = this.ref();
    this.pending.set(ref, { sentAt: Date.now(), onReply });
    this.socket.send(joinFrame(ref, topic, params));
    return ref;
  }

  push(joinRef, topic, event, payload, onReply) {
    const ref = this.ref();
    if (onReply) this.pending.set(ref, { sentAt: Date.now(), onReply });
    this.socket.send(pushFrame(joinRef, ref, topic, event, payload));
    return ref;
  }

  leave(joinRef, topic) {
    this.socket.send(leaveFrame(joinRef, this.ref(), topic));
  }

  heartbeat() {
    this.socket.send(heartbeatFrame(this.ref()));
  }

  /** Phoenix closes sockets after 60 s without inbound data; the official client beats every 30 s. */
  startHeartbeat(intervalMs) {
    this.socket.setInterval(() => this.heartbeat(), intervalMs);
  }

  /** Resolves a reply to its request; returns true when the frame was a reply we were waiting for. */
  handleReply(frame) {
    if (frame.event !== "phx_reply" || frame.ref === null) return false;
    const p = this.pending.get(frame.ref);
    if (!p) return false;
    this.pending.delete(frame.ref);
    if (p.onReply) p.onReply(frame.payload.status, Date.now() - p.sentAt, frame.payload.response);
    return true;
  }
}
