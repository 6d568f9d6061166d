import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { LOG_LEVELS, type LogLevel } from "./ops/logger.js";
import { defaultNodeBufferCap } from "./socket/node-buffer-cap.js";
import { checkAuthConfig, type AuthConfig } from "./auth/auth-config.js";

/** Decides whether a browser Origin may open a socket. */
export type OriginCheck = boolean | readonly string[] | ((origin: string, host: string) => boolean);

/**
 * Every setting of a Cinder node. The same names are CLI flags (kebab-case) and env vars
 * (UPPER_SNAKE), e.g. `maxChannelsPerSocket` = `--max-channels-per-socket` = `MAX_CHANNELS_PER_SOCKET`.
 */
export interface ServerConfig {
  /** TCP port; 0 picks a free one. */
  port: number;
  host: string;
  /** Worker threads serving the port (startNode / the CLI; default there: the machine's cores). */
  workers: number;
  /** Redis shared by the nodes of a cluster (`redis://…`, or `redis-cluster://h1:p1,h2:p2`); unset = one node. */
  redisUrl: string | undefined;
  /** Use Redis 7 sharded pub/sub (SSUBSCRIBE/SPUBLISH) for broadcasts, for Redis Cluster. */
  redisSharded: boolean;
  /** Unique name of this node in a cluster. */
  nodeName: string;
  /** The app secret: Phoenix.Token's key (`auth.phoenixToken`); also the default key of the backend endpoints. */
  secretKeyBase: string | undefined;
  /** Built-in socket authentication: Phoenix.Token or JWT (README, "Security"); unset = the connect hook decides alone. */
  auth: AuthConfig | undefined;
  logLevel: LogLevel;
  /** `true`: Origin must be publicUrl's origin (without one: a loopback host); `false`: any; list: allowed origins or `//host`. */
  checkOrigin: OriginCheck;
  /** Where browsers reach this server (`https://chat.example.com`), for `checkOrigin: true`. */
  publicUrl: string | undefined;
  /** Where sockets are mounted: `${socketPath}/websocket`. */
  socketPath: string;
  /** Bearer key for `POST /api/broadcast`; unset disables the endpoint. Defaults to secretKeyBase. */
  broadcastKey: string | undefined;
  /** Joins past this many channels on one socket get `{reason: "too many channels joined"}`. */
  maxChannelsPerSocket: number;
  /**
   * Pushes one channel may hold waiting for its handler (an async handler still busy with an
   * earlier one). Past it a push is answered `{reason: "too many pending pushes"}` at once.
   */
  maxQueuedPushes: number;
  /** Bytes of history frames a node keeps in memory (without Redis), all topics together; the oldest go first. */
  historyMaxBytes: number;
  /** A rejoin on a history topic that missed more than this many messages is not recovered (the app reloads). */
  historyMaxRecover: number;
  /** Seconds without inbound data before a socket is closed (clients heartbeat every 30 s). */
  idleTimeout: number;
  /** Largest inbound frame in bytes; larger frames close the socket with 1009. */
  maxPayloadLength: number;
  /**
   * Slow-consumer limit: bytes queued for one socket that it has not read. A socket that
   * passes it is disconnected (its client reconnects and rejoins) instead of silently missing
   * messages or growing server memory.
   */
  maxBufferedBytes: number;
  /**
   * Node-wide cap on the bytes of all sockets together that are queued and unread (default: a
   * quarter of the machine's or the cgroup's memory). Above it the sockets holding the most are
   * closed as slow consumers until the node is under it. With several workers each enforces an
   * equal share.
   */
  maxNodeBufferedBytes: number;
  /** A drain (SIGTERM, `close()`) spreads its socket closes over this long, ms (0 = all at once). */
  drainPeriod: number;
  /** Time between two batches of a drain, ms. */
  drainBatchInterval: number;
  /** Smallest batch of a drain: a node with few sockets closes them in fewer, fuller batches. */
  drainBatchSize: number;
  /** Deepest nesting of arrays and objects a payload may have (client frames, HTTP API, server broadcasts). */
  maxPayloadDepth: number;
  /** Longest topic a client frame may name, characters. */
  maxTopicLength: number;
  /** Longest event a client frame may name, characters. */
  maxEventLength: number;
  /** Frames one socket may send a second (0 = no limit); past it pushes are answered `{reason: "rate limited"}`. */
  maxFramesPerSecond: number;
  /** Joins one socket may send a second (0 = no limit). */
  maxJoinsPerSecond: number;
  /** Presence tracks and updates one socket may make a second (0 = no limit). */
  maxPresencePerSecond: number;
  /**
   * What one socket's frames may cost to decode a second, in bytes: a frame costs its bytes, 16
   * more per value it holds, and 256 more per member of an object past its 16th; bursts up to
   * max(this, maxPayloadLength). Past it the socket is closed with 1008 before the frame is
   * decoded (0 = no limit).
   */
  maxInboundBytesPerSecond: number;
  /** New sockets one client address may open a second, refused with HTTP 429 past it (0 = no limit). */
  maxConnectsPerSecondPerIp: number;
  /** Serve the demo chat (channel `room:*` and the page at `/`). */
  demo: boolean;
  /** Serve the live dashboard at `/dashboard` (its data on the reserved `cinder:dashboard` topic). */
  dashboard: boolean;
  /** The key the dashboard asks for. Defaults to broadcastKey; without either it is open only with `demo`. */
  dashboardKey: string | undefined;
  /** Lease TTL of topic workers, ms: a dead holder's worker restarts elsewhere after about this long. */
  topicWorkerTtl: number;
  /** Presence heartbeat period, ms. */
  presenceBroadcastPeriod: number;
  /** A replica silent this long is down and its presences leave, ms. */
  presenceDownPeriod: number;
  /** A down replica is forgotten after this long, ms. */
  presencePermdownPeriod: number;
  /** Merge presence diffs of one topic over this window, ms (0 = every change goes out at once). */
  presenceDiffCoalesceMs: number;
  /** A busy topic's window widens with its size (1 ms per 100 members) up to this, ms. */
  presenceDiffCoalesceMaxMs: number;
  /** A member with more unread bytes than this stops getting presence_diff and gets a fresh presence_state once it has read them. */
  presenceResyncBytes: number;
  /** Send local presence changes to other replicas within this many ms (0 = at the next heartbeat). */
  presenceEagerFlushMs: number;
  /** A node sends its coalesced counter increments to Redis once per this many ms (one pipeline). */
  counterFlushMs: number;
  /** Counters a thread keeps in memory (without Redis), and keys it holds waiting for the next flush. */
  counterMaxKeys: number;
  /** Live counts (`counter:<key>` topics, `presence_count`) go to clients at most once per this many ms, and only when changed. */
  countIntervalMs: number;
  /** Serve the LongPoll transport at `${socketPath}/longpoll` (README, "LongPoll"). */
  longPoll: boolean;
  /** How long a LongPoll poll waits for messages before it is answered 204; a session with no poll for 1.5 windows ends. */
  longPollWindowMs: number;
  /** Bytes of frames one LongPoll session may hold between polls; past it the session ends (the client reconnects and rejoins). */
  longPollMaxBufferedBytes: number;
  /** LongPoll requests one thread may have relayed to their session's owner and still wait on; past it they are answered 410. */
  longPollMaxRelays: number;
}

export const DEFAULTS: Omit<ServerConfig, "nodeName"> = {
  port: 4000,
  host: "127.0.0.1",
  workers: 1,
  redisUrl: undefined,
  redisSharded: false,
  secretKeyBase: undefined,
  auth: undefined,
  logLevel: "info",
  checkOrigin: true,
  publicUrl: undefined,
  socketPath: "/socket",
  broadcastKey: undefined,
  maxChannelsPerSocket: 100,
  maxQueuedPushes: 100,
  historyMaxBytes: 64 * 1024 * 1024,
  historyMaxRecover: 300,
  idleTimeout: 60,
  maxPayloadLength: 1024 * 1024,
  maxBufferedBytes: 4 * 1024 * 1024,
  maxNodeBufferedBytes: defaultNodeBufferCap(),
  drainPeriod: 10_000,
  drainBatchInterval: 100,
  drainBatchSize: 100,
  maxPayloadDepth: 32,
  maxTopicLength: 1024,
  maxEventLength: 256,
  maxFramesPerSecond: 1000,
  maxJoinsPerSecond: 100,
  maxPresencePerSecond: 20,
  maxInboundBytesPerSecond: 1024 * 1024,
  maxConnectsPerSecondPerIp: 0,
  demo: false,
  dashboard: false,
  dashboardKey: undefined,
  topicWorkerTtl: 5000,
  presenceBroadcastPeriod: 1500,
  presenceDownPeriod: 30_000,
  presencePermdownPeriod: 1_200_000,
  presenceDiffCoalesceMs: 10,
  presenceDiffCoalesceMaxMs: 250,
  presenceResyncBytes: 256 * 1024,
  presenceEagerFlushMs: 20,
  counterFlushMs: 1000,
  counterMaxKeys: 100_000,
  countIntervalMs: 1000,
  longPoll: true,
  longPollWindowMs: 10_000,
  longPollMaxBufferedBytes: 1024 * 1024,
  longPollMaxRelays: 4096,
};

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Fills defaults and rejects impossible values with a message naming the setting. */
export function resolveConfig(options: Partial<ServerConfig>): ServerConfig {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const config: ServerConfig = {
    ...DEFAULTS,
    nodeName: `${hostname()}-${randomBytes(3).toString("hex")}`,
    ...defined,
  };
  config.broadcastKey ??= config.secretKeyBase;
  config.dashboardKey ??= config.broadcastKey;
  if (config.dashboard && !config.dashboardKey && !config.demo) {
    throw new ConfigError("dashboard needs a key: set dashboardKey, broadcastKey or secretKeyBase (it is open without one only with demo)");
  }
  integer("port", config.port, 0, 65535);
  integer("workers", config.workers, 1, 256);
  integer("maxChannelsPerSocket", config.maxChannelsPerSocket, 1, 1_000_000);
  integer("maxQueuedPushes", config.maxQueuedPushes, 1, 1_000_000);
  integer("historyMaxBytes", config.historyMaxBytes, 0, 16 * 1024 * 1024 * 1024);
  integer("historyMaxRecover", config.historyMaxRecover, 0, 100_000);
  integer("maxPayloadLength", config.maxPayloadLength, 64, 64 * 1024 * 1024);
  // The msgpack encoder refuses nesting past 100 levels: the limit must stay below it.
  integer("maxPayloadDepth", config.maxPayloadDepth, 1, 90);
  integer("maxTopicLength", config.maxTopicLength, 1, 65_536);
  integer("maxEventLength", config.maxEventLength, 1, 65_536);
  integer("maxFramesPerSecond", config.maxFramesPerSecond, 0, 1_000_000);
  integer("maxJoinsPerSecond", config.maxJoinsPerSecond, 0, 1_000_000);
  integer("maxPresencePerSecond", config.maxPresencePerSecond, 0, 1_000_000);
  integer("maxInboundBytesPerSecond", config.maxInboundBytesPerSecond, 0, 1024 * 1024 * 1024);
  integer("maxConnectsPerSecondPerIp", config.maxConnectsPerSecondPerIp, 0, 1_000_000);
  integer("maxBufferedBytes", config.maxBufferedBytes, 1024, 1024 * 1024 * 1024);
  integer("maxNodeBufferedBytes", config.maxNodeBufferedBytes, 1024, Number.MAX_SAFE_INTEGER);
  integer("drainPeriod", config.drainPeriod, 0, 3_600_000);
  integer("drainBatchInterval", config.drainBatchInterval, 1, 60_000);
  integer("drainBatchSize", config.drainBatchSize, 1, 10_000_000);
  integer("topicWorkerTtl", config.topicWorkerTtl, 2000, 600_000);
  integer("presenceBroadcastPeriod", config.presenceBroadcastPeriod, 10, 3_600_000);
  integer("presenceDiffCoalesceMs", config.presenceDiffCoalesceMs, 0, 60_000);
  integer("presenceDiffCoalesceMaxMs", config.presenceDiffCoalesceMaxMs, 0, 60_000);
  integer("presenceResyncBytes", config.presenceResyncBytes, 1024, 1024 * 1024 * 1024);
  integer("presenceEagerFlushMs", config.presenceEagerFlushMs, 0, 60_000);
  integer("counterFlushMs", config.counterFlushMs, 10, 60_000);
  integer("counterMaxKeys", config.counterMaxKeys, 1, 100_000_000);
  integer("countIntervalMs", config.countIntervalMs, 10, 60_000);
  // phoenix.js gives up on a request after its 20 s timeout: the window must end well before.
  integer("longPollWindowMs", config.longPollWindowMs, 100, 15_000);
  integer("longPollMaxBufferedBytes", config.longPollMaxBufferedBytes, 1024, 1024 * 1024 * 1024);
  integer("longPollMaxRelays", config.longPollMaxRelays, 1, 1_000_000);
  // uWS counts idle time in 4-second ticks and needs at least 8 s (0 disables it).
  if (config.idleTimeout !== 0) integer("idleTimeout", config.idleTimeout, 8, 960);
  if (config.presenceDownPeriod < 2 * config.presenceBroadcastPeriod) {
    throw new ConfigError("presenceDownPeriod must be at least twice presenceBroadcastPeriod");
  }
  if (config.presencePermdownPeriod <= config.presenceDownPeriod) {
    throw new ConfigError("presencePermdownPeriod must be longer than presenceDownPeriod");
  }
  if (!LOG_LEVELS.includes(config.logLevel)) {
    throw new ConfigError(`logLevel must be one of ${LOG_LEVELS.join(", ")}`);
  }
  if (!config.socketPath.startsWith("/") || config.socketPath.endsWith("/")) {
    throw new ConfigError('socketPath must start with "/" and not end with "/" (e.g. "/socket")');
  }
  if (config.publicUrl !== undefined && !/^https?:\/\/[^/]+\/?$/.test(config.publicUrl)) {
    throw new ConfigError(`publicUrl must be an http(s) origin like https://chat.example.com, got ${JSON.stringify(config.publicUrl)}`);
  }
  if (!config.nodeName || /\s/.test(config.nodeName)) throw new ConfigError("nodeName must be a non-empty word");
  if (config.auth !== undefined) {
    try {
      checkAuthConfig(config.auth, config.secretKeyBase);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  return config;
}

function integer(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}
