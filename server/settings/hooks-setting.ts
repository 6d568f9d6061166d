/**
 * The `hooks` setting: which backend URLs answer for connects and for families of topics
 * (docs/backend-hooks.md). Checked when the settings are resolved (resolveConfig), so a mistake
 * stops a node at start; `planHooks` gives server/hooks/ its shape, every default filled in.
 * It lives with the settings, below hooks/, because resolveConfig checks it.
 */

/** One endpoint as written: a URL, or a URL with its own timeout (and, for publish and rpc, events). */
export type HookSpec = string | { url: string; timeoutMs?: number; events?: readonly string[]; headers?: readonly string[] };

/** The `hooks` setting as written in the config file or given in code. */
export interface HooksConfig {
  /** HMAC-SHA256 key: every request carries `x-cinder-signature: sha256=<hex of the body's HMAC>`. */
  secret?: string;
  /** Default timeout of every hook, ms (default 2000). */
  timeoutMs?: number;
  /** Requests to the backend in flight at once on this node, split over its worker threads (default 64). */
  concurrency?: number;
  /** Requests waiting for a free slot on this node, split like concurrency (default 1024); past it they are refused at once. */
  queue?: number;
  /** The circuit breaker of each endpoint: opens after `failures` failures in a row, probes again after `coolDownMs`. */
  breaker?: { failures?: number; coolDownMs?: number };
  /** The connect hook; `headers` names the request headers passed on (lower-case). */
  connect?: HookSpec;
  /** Per topic pattern ("room:*", "room:lobby"): the join, publish and rpc hooks. */
  channels?: Record<string, { join?: HookSpec; publish?: HookSpec; rpc?: HookSpec }>;
}

/** One endpoint, resolved. */
export interface HookEndpoint {
  readonly url: URL;
  readonly timeoutMs: number;
  /** publish and rpc: the events it takes (undefined: all of them). */
  readonly events: ReadonlySet<string> | undefined;
  /** connect: the request headers passed on. */
  readonly headers: readonly string[];
}

export interface ChannelHooks {
  readonly join: HookEndpoint | undefined;
  readonly publish: HookEndpoint | undefined;
  readonly rpc: HookEndpoint | undefined;
}

/** The `hooks` setting, checked and with its defaults. */
export interface HookPlan {
  readonly secret: string | undefined;
  readonly concurrency: number;
  readonly queue: number;
  readonly breakerFailures: number;
  readonly breakerCoolDownMs: number;
  readonly connect: HookEndpoint | undefined;
  readonly channels: ReadonlyArray<{ pattern: string; hooks: ChannelHooks }>;
}

export const HOOK_DEFAULTS = { timeoutMs: 2000, concurrency: 64, queue: 1024, breakerFailures: 5, breakerCoolDownMs: 5000 } as const;

const TOP_KEYS = new Set(["secret", "timeoutMs", "concurrency", "queue", "breaker", "connect", "channels"]);
const CHANNEL_KEYS = new Set(["join", "publish", "rpc"]);
const SPEC_KEYS = new Set(["url", "timeoutMs", "events", "headers"]);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function integerIn(where: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${where} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function unknownKeys(where: string, value: Record<string, unknown>, known: ReadonlySet<string>): void {
  const extra = Object.keys(value).filter((key) => !known.has(key));
  if (extra.length > 0) throw new TypeError(`${where} has unknown key ${JSON.stringify(extra[0])} (known: ${[...known].join(", ")})`);
}

function strings(where: string, value: unknown): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw new TypeError(`${where} must be a list of strings`);
  return value as string[];
}

function endpoint(where: string, spec: unknown, timeoutMs: number): HookEndpoint {
  const given = typeof spec === "string" ? { url: spec } : spec;
  if (!isObject(given)) throw new TypeError(`${where} must be a URL or {"url", "timeoutMs"?, …}`);
  unknownKeys(where, given, SPEC_KEYS);
  let url: URL;
  try {
    url = new URL(String(given.url));
  } catch {
    throw new TypeError(`${where}.url must be an http(s) URL, got ${JSON.stringify(given.url)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`${where}.url must be an http(s) URL, got ${JSON.stringify(given.url)}`);
  const events = strings(`${where}.events`, given.events);
  const headers = (strings(`${where}.headers`, given.headers) ?? []).map((name) => name.toLowerCase());
  return { url, timeoutMs: integerIn(`${where}.timeoutMs`, given.timeoutMs, 1, 60_000, timeoutMs), events: events && new Set(events), headers };
}

/** Checks the `hooks` setting; throws a TypeError naming the key at fault ("hooks.channels.room:*.join.url …"). */
export function planHooks(config: unknown): HookPlan {
  if (!isObject(config)) throw new TypeError("hooks must be an object");
  unknownKeys("hooks", config, TOP_KEYS);
  if (config.secret !== undefined && (typeof config.secret !== "string" || config.secret.length < 16)) throw new TypeError("hooks.secret must be a string of at least 16 characters");
  const timeoutMs = integerIn("hooks.timeoutMs", config.timeoutMs, 1, 60_000, HOOK_DEFAULTS.timeoutMs);
  const breaker = config.breaker ?? {};
  if (!isObject(breaker)) throw new TypeError("hooks.breaker must be an object");
  unknownKeys("hooks.breaker", breaker, new Set(["failures", "coolDownMs"]));
  const channels = config.channels ?? {};
  if (!isObject(channels)) throw new TypeError('hooks.channels must be an object: {"room:*": {"join": URL, …}}');
  return {
    secret: config.secret as string | undefined,
    concurrency: integerIn("hooks.concurrency", config.concurrency, 1, 100_000, HOOK_DEFAULTS.concurrency),
    queue: integerIn("hooks.queue", config.queue, 0, 1_000_000, HOOK_DEFAULTS.queue),
    breakerFailures: integerIn("hooks.breaker.failures", breaker.failures, 1, 1000, HOOK_DEFAULTS.breakerFailures),
    breakerCoolDownMs: integerIn("hooks.breaker.coolDownMs", breaker.coolDownMs, 10, 600_000, HOOK_DEFAULTS.breakerCoolDownMs),
    connect: config.connect === undefined ? undefined : endpoint("hooks.connect", config.connect, timeoutMs),
    channels: Object.entries(channels).map(([pattern, hooks]) => {
      const where = `hooks.channels.${pattern}`;
      if (pattern === "" || pattern.indexOf("*") !== -1 && pattern.indexOf("*") !== pattern.length - 1) throw new TypeError(`${where}: a topic pattern is a topic, or a prefix ending in "*"`);
      if (pattern.startsWith("cinder:")) throw new TypeError(`${where}: topics starting with cinder: are reserved for Cinder`);
      if (!isObject(hooks)) throw new TypeError(`${where} must be an object with join, publish or rpc`);
      unknownKeys(where, hooks, CHANNEL_KEYS);
      const at = (kind: string) => (hooks[kind] === undefined ? undefined : endpoint(`${where}.${kind}`, hooks[kind], timeoutMs));
      return { pattern, hooks: { join: at("join"), publish: at("publish"), rpc: at("rpc") } };
    }),
  };
}
