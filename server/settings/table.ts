import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { AuthConfig } from "../auth/auth-config.js";
import type { HooksConfig } from "./hooks-setting.js";
import { webhooksProblem, type WebhooksSetting } from "../webhooks/webhook-settings.js";
import { LOG_LEVELS } from "../ops/logger.js";
import { defaultNodeBufferCap } from "../socket/node-buffer-cap.js";
import { CORK_FIT_BATCH_BYTES } from "../presence/catch-up-batch.js";
import { choice, computed, flag, integer, json, optionalText, origins, text, type Setting } from "./setting.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/**
 * Every setting of a Cinder node, once: its name (a `createServer`/`startNode` option), type,
 * default, bounds, unit and description. From this table come the ServerConfig type, the checks
 * of resolveConfig, the CLI flag (`--kebab-case`) and env var (`UPPER_SNAKE_CASE`) of each
 * setting, `npx cinder --help`, and docs/configuration.md.
 *
 * To add a setting, add one entry here, in its group, with the kind of value it takes
 * (`integer`, `flag`, `text`, `optionalText`, `choice`, `origins`, `json`); then run
 * `npm run docs:config` to regenerate docs/configuration.md (a test fails until it matches).
 * Every duration is in milliseconds, with unit "ms" and a name ending in Ms, Period, Interval or
 * Ttl. A setting whose default comes from another one (`computed`) comes after it.
 */
export const SETTINGS = {
  port: integer({
    group: "Serving",
    default: 4000,
    min: 0,
    max: 65535,
    zero: "any free port",
    description: "TCP port to listen on.",
  }),
  host: text({
    group: "Serving",
    default: "127.0.0.1",
    placeholder: "<address>",
    description: "Address to bind; 0.0.0.0 to serve other machines.",
  }),
  workers: integer({
    group: "Serving",
    default: computed("1 with createServer, the machine's cores with startNode and the CLI", () => 1),
    min: 1,
    max: 256,
    unit: "threads",
    description: "Worker threads serving the port, each a full server; the kernel spreads connections over them.",
  }),
  reusePort: flag({
    group: "Serving",
    default: false,
    description:
      "Listen on a port other processes may listen on too (SO_REUSEPORT), the kernel spreading connections over them: several nodes on one machine sharing a port, each set so. Off, a port someone else listens on fails at start (\"address already in use\"). A node's own worker threads always share its port.",
  }),
  socketPath: text({
    group: "Serving",
    default: "/socket",
    placeholder: "<path>",
    format: { pattern: /^\/(.*[^/])?$/, says: 'a path that starts with "/" and does not end with "/" (e.g. "/socket")' },
    description: "Where sockets are served: `${socketPath}/websocket`, and `${socketPath}/longpoll` with longPoll.",
  }),
  logLevel: choice(LOG_LEVELS, {
    group: "Serving",
    default: "info",
    placeholder: "<level>",
    description: "JSON log lines on stdout from this level up; debug adds connection and channel lifecycle.",
  }),
  nodeName: text({
    group: "Serving",
    default: computed("hostname + random suffix", () => `${hostname()}-${randomBytes(3).toString("hex")}`),
    placeholder: "<name>",
    format: { pattern: /^\S+$/, says: "one word (no spaces)" },
    description: "This node's name in logs, /health, presence and the dashboard; unique in a cluster.",
  }),
  demo: flag({
    group: "Serving",
    default: computed("false (true under npx cinder without --app)", () => false),
    description: "Serve the demo chat page at / (npx cinder without --app also loads the demo app's channels).",
  }),
  eventLoopResolutionMs: integer({
    group: "Serving",
    default: 10,
    min: 1,
    max: 1000,
    unit: "ms",
    description:
      "How often the process's event-loop delay histogram (`nodejs_eventloop_lag_*` in /metrics) samples the loop. Each sample wakes an idle process: at 10 ms, 100 wakeups a second are most of what an idle node spends. Its values are the time between two samples, so they read this much at least: raised, they rise with it, and stalls shorter than it are seen only when a sample falls in them.",
  }),

  secretKeyBase: optionalText({
    group: "Security",
    placeholder: "<secret>",
    description:
      "The app secret: the key of Phoenix.Token auth (the Phoenix endpoint's secret_key_base), the key every node of a cluster signs LongPoll sessions with (required with redisUrl unless longPoll is off), and the default broadcastKey.",
  }),
  auth: json<AuthConfig>({
    group: "Security",
    example: '{"phoenixToken":{"salt":"user socket"}}',
    description:
      'Built-in socket auth, verified at every connect: {"phoenixToken": {"salt", "maxAgeMs"?}} or {"jwt": {…}}, plus "expiryNoticeMs"; unset: the connect hook alone decides.',
  }),
  broadcastKey: optionalText({
    group: "Security",
    default: computed("secretKeyBase", (resolved) => resolved.secretKeyBase as string | undefined),
    placeholder: "<key>",
    description: "Bearer key of POST /api/broadcast, POST /api/disconnect and GET /api/history; unset: those endpoints are off.",
  }),
  checkOrigin: origins({
    group: "Security",
    default: true,
    description:
      "Which browser origins may open a socket: true (publicUrl's origin; without publicUrl, a loopback origin that is also the host connected to), false (any), or a list. Refused origins are logged with the setting that would allow them.",
  }),
  publicUrl: optionalText({
    group: "Security",
    placeholder: "<url>",
    format: { pattern: /^https?:\/\/[^/]+\/?$/, says: "an http(s) origin like https://chat.example.com" },
    description: "Where browsers reach this server (https://chat.example.com): the origin checkOrigin: true accepts.",
  }),
  dashboard: flag({
    group: "Security",
    default: computed("false (true under npx cinder without --app)", () => false),
    description: "Serve the live dashboard at /dashboard; its data travels on the reserved cinder:dashboard topic.",
  }),
  dashboardKey: optionalText({
    group: "Security",
    default: computed("broadcastKey", (resolved) => resolved.broadcastKey as string | undefined),
    placeholder: "<key>",
    description:
      "The key the dashboard asks for. It admits the dashboard's own socket whatever auth says, to the dashboard's topic only. Without any key the dashboard is open, which only demo allows.",
  }),

  redisUrl: optionalText({
    group: "Cluster",
    placeholder: "<url>",
    format: { pattern: /^rediss?(-cluster)?:\/\/\S+$/, says: "a redis:// (or rediss://, redis-cluster://h1:p1,h2:p2) URL" },
    description: "Redis shared by the nodes of a cluster; unset: a single node.",
  }),
  redisSharded: flag({
    group: "Cluster",
    default: false,
    description: "Broadcast over Redis 7 sharded pub/sub (SSUBSCRIBE/SPUBLISH), for Redis Cluster.",
  }),

  maxPayloadLength: integer({
    group: "Limits",
    default: 1 * MiB,
    min: 64,
    max: 64 * MiB,
    unit: "bytes",
    description: "Largest inbound frame; a larger one closes its socket with 1009.",
  }),
  // The msgpack encoder refuses nesting past 100 levels: the limit must stay below it.
  maxPayloadDepth: integer({
    group: "Limits",
    default: 32,
    min: 1,
    max: 90,
    unit: "levels",
    description: "Deepest nesting of arrays and objects in a payload (client frames, the HTTP API, server broadcasts); a deeper frame closes its socket with 1007.",
  }),
  maxTopicLength: integer({
    group: "Limits",
    default: 1024,
    min: 1,
    max: 65_536,
    unit: "characters",
    description: "Longest topic a client frame or the HTTP API may name (1007 / HTTP 400 past it).",
  }),
  maxEventLength: integer({
    group: "Limits",
    default: 256,
    min: 1,
    max: 65_536,
    unit: "characters",
    description: "Longest event a client frame or the HTTP API may name (1007 / HTTP 400 past it).",
  }),
  maxChannelsPerSocket: integer({
    group: "Limits",
    default: 100,
    min: 1,
    max: 1_000_000,
    unit: "channels",
    description: 'Channels one socket may have joined; a join past it gets {reason: "too many channels joined"}.',
  }),
  maxQueuedPushes: integer({
    group: "Limits",
    default: 100,
    min: 1,
    max: 1_000_000,
    unit: "pushes",
    description: 'Pushes one channel may hold waiting for its (async) handler; past it a push is answered {reason: "too many pending pushes"} at once.',
  }),
  maxInboundBytesPerSecond: integer({
    group: "Limits",
    default: 1 * MiB,
    min: 0,
    max: 1 * GiB,
    zero: "no limit",
    unit: "bytes",
    description:
      "What one socket's frames may cost to decode a second: a frame costs its bytes, 16 more per value it holds, and 256 more per member of an object past its 16th; bursts up to max(this, maxPayloadLength). Past it the socket is closed with 1008 before the frame is decoded.",
  }),
  maxFramesPerSecond: integer({
    group: "Limits",
    default: 1000,
    min: 0,
    max: 1_000_000,
    zero: "no limit",
    unit: "per second",
    description: 'Frames one socket may send a second; past it pushes are answered {reason: "rate limited"}.',
  }),
  maxJoinsPerSecond: integer({
    group: "Limits",
    default: 100,
    min: 0,
    max: 1_000_000,
    zero: "no limit",
    unit: "per second",
    description: 'Joins one socket may send a second; past it a join is answered {reason: "too many joins"}.',
  }),
  maxPresencePerSecond: integer({
    group: "Limits",
    default: 20,
    min: 0,
    max: 1_000_000,
    zero: "no limit",
    unit: "per second",
    description: "Presence tracks and updates one socket may make a second.",
  }),
  maxPendingJoins: integer({
    group: "Limits",
    default: 5000,
    min: 0,
    max: 10_000_000,
    zero: "no limit",
    unit: "channels",
    description: "Joins one thread may have asked for and not answered yet (waiting in the join backlog, in a handler, reading history); while this many wait, new WebSockets are refused with HTTP 503 at once, which phoenix.js retries with its reconnect backoff.",
  }),
  maxConnectsPerSecondPerIp: integer({
    group: "Limits",
    default: 0,
    min: 0,
    max: 1_000_000,
    zero: "no limit",
    unit: "per second",
    description: "New sockets one client address may open a second, refused with HTTP 429 past it (behind a proxy every client shares its address).",
  }),
  // uWS counts idle time in 4-second ticks and needs at least 8 s.
  idleTimeoutMs: integer({
    group: "Limits",
    default: 60_000,
    min: 8000,
    max: 960_000,
    zero: "never",
    unit: "ms",
    description: "Time without inbound data before a socket is closed (clients heartbeat every 30 s); counted in whole seconds.",
  }),

  maxBufferedBytes: integer({
    group: "Slow consumers and drains",
    default: 4 * MiB,
    min: 1024,
    max: 1 * GiB,
    unit: "bytes",
    description: "Slow-consumer limit: bytes queued for one socket that it has not read. A socket past it is closed (its client reconnects and rejoins) rather than silently missing messages.",
  }),
  behindBytes: integer({
    group: "Slow consumers and drains",
    default: 256 * KiB,
    min: 0,
    max: 1 * GiB,
    zero: "never: every subscriber gets every frame until maxBufferedBytes",
    unit: "bytes",
    description:
      "Soft watermark, below maxBufferedBytes: a subscriber of a history topic, or of a topic whose channel declares `conflate`, with more unread bytes than this leaves the topic's live stream and catches up once it has read half of them (from history, or the latest message per key).",
  }),
  conflationMaxKeys: integer({
    group: "Slow consumers and drains",
    default: 10_000,
    min: 1,
    max: 10_000_000,
    description: "The most keys a subscriber behind on a conflating topic holds (the latest message of each); one more closes it as a slow consumer (1013).",
  }),
  maxNodeBufferedBytes: integer({
    group: "Slow consumers and drains",
    default: computed("a quarter of the machine's (or the cgroup's) memory", () => defaultNodeBufferCap()),
    min: 1024,
    max: Number.MAX_SAFE_INTEGER,
    unit: "bytes",
    description: "Unread outbound bytes of all sockets of the node together; above it the sockets holding the most are closed (1013). Each worker enforces an equal share.",
  }),
  drainPeriod: integer({
    group: "Slow consumers and drains",
    default: 10_000,
    min: 0,
    max: 3_600_000,
    zero: "all at once",
    unit: "ms",
    description: "A drain (SIGTERM, close()) closes the sockets in batches spread over this long.",
  }),
  drainBatchInterval: integer({
    group: "Slow consumers and drains",
    default: 100,
    min: 1,
    max: 60_000,
    unit: "ms",
    description: "Time between two batches of a drain.",
  }),
  drainBatchSize: integer({
    group: "Slow consumers and drains",
    default: 100,
    min: 1,
    max: 10_000_000,
    unit: "sockets",
    description: "Smallest batch of a drain: a node with few sockets closes them in fewer, fuller batches.",
  }),

  presenceBroadcastPeriod: integer({
    group: "Presence",
    default: 1500,
    min: 10,
    max: 3_600_000,
    unit: "ms",
    description: "Presence heartbeat period between replicas.",
  }),
  presenceDownPeriod: integer({
    group: "Presence",
    default: 30_000,
    min: 20,
    max: 86_400_000,
    unit: "ms",
    description: "A replica silent this long is down and its presences leave; at least twice presenceBroadcastPeriod.",
  }),
  presencePermdownPeriod: integer({
    group: "Presence",
    default: 1_200_000,
    min: 30,
    max: 604_800_000,
    unit: "ms",
    description: "A down replica is forgotten after this long; longer than presenceDownPeriod.",
  }),
  presenceFirstSyncTimeoutMs: integer({
    group: "Presence",
    default: 2000,
    min: 1,
    max: 600_000,
    unit: "ms",
    description: "A starting replica serves presence_state once every live replica sent it its presences, or after this long at most with what came.",
  }),
  presenceDiffCoalesceMs: integer({
    group: "Presence",
    default: 10,
    min: 0,
    max: 60_000,
    zero: "every change goes out at once",
    unit: "ms",
    description: "Presence diffs of one topic are merged over this window.",
  }),
  presenceDiffCoalesceMaxMs: integer({
    group: "Presence",
    default: 250,
    min: 0,
    max: 60_000,
    unit: "ms",
    description: "The widest a busy topic's window gets: presenceDiffCoalesceMs + 1 ms per 100 members, up to this.",
  }),
  presenceResyncBytes: integer({
    group: "Presence",
    default: 256 * KiB,
    min: 1024,
    max: 1 * GiB,
    unit: "bytes",
    description: "A member with more unread bytes than this stops getting presence_diff and catches up from a fresh presence_state once it has read them.",
  }),
  presenceCatchUpBatchBytes: integer({
    group: "Presence",
    default: CORK_FIT_BATCH_BYTES,
    min: 1024,
    max: 64 * MiB,
    unit: "bytes",
    description:
      "Bytes of a presence catch-up written to one member at once. Above 16,024 (what fits uWS's cork buffer) it takes effect only on a uWS build that releases a socket's send buffer.",
  }),
  presenceEagerFlushMs: integer({
    group: "Presence",
    default: 20,
    min: 0,
    max: 60_000,
    zero: "at the next heartbeat",
    unit: "ms",
    description: "Local presence changes reach other replicas within this window.",
  }),
  presenceFetchConcurrency: integer({
    group: "Presence",
    default: 16,
    min: 1,
    max: 10_000,
    unit: "requests",
    description: "Presence fetches (a channel's presenceFetch) running at once per thread; the others wait for a slot.",
  }),
  presenceFetchTimeoutMs: integer({
    group: "Presence",
    default: 1000,
    min: 1,
    max: 60_000,
    unit: "ms",
    description: "The longest a presence fetch may take, waiting for a slot included; then the raw entries go out.",
  }),
  presenceFetchMaxWaiting: integer({
    group: "Presence",
    default: 32,
    min: 1,
    max: 100_000,
    unit: "messages",
    description: "Diffs of one topic waiting behind its presence fetch at most; past it they go out raw, in order, right after the one being fetched.",
  }),

  historyMaxBytes: integer({
    group: "History",
    default: 64 * MiB,
    min: 0,
    max: 16 * GiB,
    unit: "bytes",
    description: "Bytes of history frames a node keeps in memory (without Redis), all topics together; the oldest go first.",
  }),
  historyMaxRecover: integer({
    group: "History",
    default: 300,
    min: 0,
    max: 100_000,
    unit: "messages",
    description: "A rejoin that missed more messages than this is not recovered (the app reloads instead).",
  }),
  historyReadCoalesceMax: integer({
    group: "History",
    default: 1000,
    min: 1,
    max: 100_000,
    unit: "requests",
    description: "With Redis: reads of one topic's history asked for together (a rejoin storm) share one Redis read, each served its own slice; at most this many per read, past it a read goes alone. 1: none shared.",
  }),
  historyStoreTimeoutMs: integer({
    group: "History",
    default: 2000,
    min: 10,
    max: 600_000,
    unit: "ms",
    description: "How long a stored broadcast (broadcastStored) waits for its history's authority to confirm it; then it fails with timeout.",
  }),
  historyMaxPendingStores: integer({
    group: "History",
    default: 10_000,
    min: 1,
    max: 10_000_000,
    unit: "messages",
    description: "Stored broadcasts one thread may wait on at once; past it they fail at once with overloaded.",
  }),

  counterFlushMs: integer({
    group: "Counters and topic workers",
    default: 1000,
    min: 10,
    max: 60_000,
    unit: "ms",
    description: "A node sends its coalesced counter increments to Redis once per this period (one pipeline).",
  }),
  counterMaxKeys: integer({
    group: "Counters and topic workers",
    default: 100_000,
    min: 1,
    max: 100_000_000,
    unit: "keys",
    description: "Counters a thread keeps in memory (without Redis), and keys it holds waiting for the next flush.",
  }),
  countIntervalMs: integer({
    group: "Counters and topic workers",
    default: 1000,
    min: 10,
    max: 60_000,
    unit: "ms",
    description: "Live counts (counter pushes, presence_count) go to clients at most once per this period, and only when changed.",
  }),
  topicWorkerTtl: integer({
    group: "Counters and topic workers",
    default: 5000,
    min: 2000,
    max: 600_000,
    unit: "ms",
    description: "Lease TTL of topic workers: a dead holder's worker restarts elsewhere after about this long; renewed every third of it.",
  }),

  longPoll: flag({
    group: "LongPoll",
    default: true,
    description: "Serve phoenix.js's LongPoll transport at `${socketPath}/longpoll`.",
  }),
  // phoenix.js gives up on a request after its 20 s timeout: the window must end well before.
  longPollWindowMs: integer({
    group: "LongPoll",
    default: 10_000,
    min: 100,
    max: 15_000,
    unit: "ms",
    description: "How long a poll waits for messages before it is answered 204; a session with no poll for 1.5 windows ends.",
  }),
  longPollMaxBufferedBytes: integer({
    group: "LongPoll",
    default: 1 * MiB,
    min: 1024,
    max: 1 * GiB,
    unit: "bytes",
    description: "Bytes of frames one LongPoll session may hold between polls; past it the session ends (the client reconnects and rejoins).",
  }),
  longPollMaxRelays: integer({
    group: "LongPoll",
    default: 4096,
    min: 1,
    max: 1_000_000,
    unit: "requests",
    description: "LongPoll requests one thread may have relayed to their session's owner and still wait on; past it they are answered 410.",
  }),

  hooks: json<HooksConfig>({
    group: "Backend hooks",
    example: '{"connect":"http://127.0.0.1:5000/connect","channels":{"room:*":{"join":"http://127.0.0.1:5000/join"}}}',
    description:
      "Backend hooks over HTTP: a backend in any language answers connects, and joins, publishes and rpc pushes per topic pattern, with timeouts, bounded concurrency and a circuit breaker (docs/backend-hooks.md). A TypeScript channel matching a topic wins over them.",
  }),
  webhooks: {
    ...json<WebhooksSetting>({
      group: "Webhooks",
      example: '{"url":"https://backend.example/cinder","secret":"at-least-16-chars"}',
      description:
        'Sends channel occupied/vacated, presence member added/removed and chosen client events to a backend, batched, signed and retried (docs/webhooks.md): {"url", "secret", "events"?, "clientEvents"?: [{"topic": "room:*", "events": ["new_msg"]}], "batchSize"? (100), "batchDelayMs"? (50), "retryMinMs"? (100), "retryMaxMs"? (30000), "maxAttempts"? (0: until a 2xx), "requestTimeoutMs"? (10000), "maxQueue"? (10000)}; unset: no webhooks, and nothing on the message path.',
    }),
    problem: (value: unknown) => (typeof value === "object" && value !== null ? webhooksProblem(value) : "must be an object, e.g. {\"url\":…,\"secret\":…}"),
  },
} satisfies Record<string, Setting<unknown>>;

/** A setting's name. */
export type SettingName = keyof typeof SETTINGS;

/** The type of every setting's value, from the table. */
export type SettingValues = { -readonly [K in SettingName]: (typeof SETTINGS)[K] extends Setting<infer T> ? T : never };

/**
 * Settings whose unit changed: the old name is refused with one line naming the new one, so an
 * old value is never read in the new unit.
 */
export const RENAMED: Readonly<Record<string, { now: SettingName; was: string }>> = {
  idleTimeout: { now: "idleTimeoutMs", was: "seconds" },
};

export const flagOf = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
export const envOf = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
