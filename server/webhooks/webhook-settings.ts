/** The kinds of event a backend can be sent (docs/webhooks.md). */
export const WEBHOOK_EVENT_TYPES = ["channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event"] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The `webhooks` setting as written: only `url` and `secret` are required. */
export interface WebhooksSetting {
  /** Where batches are POSTed (http or https). */
  url: string;
  /** The HMAC-SHA256 key every batch is signed with; at least 16 characters. */
  secret: string;
  /** Which events are sent; default every type but client_event (which needs clientEvents). */
  events?: WebhookEventType[];
  /** Client pushes sent as client_event: topic patterns ("room:*") with the event names sent ("*" for every event). */
  clientEvents?: Array<{ topic: string; events: string[] }>;
  /** Events per POST, at most. */
  batchSize?: number;
  /** How long an event may wait for its batch to fill before the batch is sent, ms. */
  batchDelayMs?: number;
  /** The first retry's delay, ms: each further retry doubles it, up to retryMaxMs, with jitter. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Attempts of one batch before it is dropped (0: until a 2xx, however long). */
  maxAttempts?: number;
  /** How long one POST may take, ms. */
  requestTimeoutMs?: number;
  /** Events a node holds (queued and in flight), at most; past it new events are dropped. */
  maxQueue?: number;
}

/** The setting resolved: every field present, the client event patterns ready to match. */
export interface WebhookSettings {
  url: string;
  secret: string;
  events: ReadonlySet<WebhookEventType>;
  clientEvents: ClientEventPatterns;
  batchSize: number;
  batchDelayMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  requestTimeoutMs: number;
  maxQueue: number;
}

const DEFAULTS = { batchSize: 100, batchDelayMs: 50, retryMinMs: 100, retryMaxMs: 30_000, maxAttempts: 0, requestTimeoutMs: 10_000, maxQueue: 10_000 } as const;

/** Bounds of the numeric fields: [min, max]. */
const BOUNDS: Record<keyof typeof DEFAULTS, readonly [number, number]> = {
  batchSize: [1, 10_000],
  batchDelayMs: [0, 60_000],
  retryMinMs: [1, 600_000],
  retryMaxMs: [1, 3_600_000],
  maxAttempts: [0, 1_000_000],
  requestTimeoutMs: [100, 600_000],
  maxQueue: [1, 10_000_000],
};

const KNOWN = new Set(["url", "secret", "events", "clientEvents", ...Object.keys(DEFAULTS)]);

/**
 * Which client pushes are sent as client_event: by topic pattern (an exact topic, or a prefix
 * ending in "*", as channels are declared), then event name ("*": every event).
 */
export class ClientEventPatterns {
  private readonly entries: ReadonlyArray<{ exact: boolean; topic: string; events: ReadonlySet<string> }>;

  constructor(entries: ReadonlyArray<{ topic: string; events: readonly string[] }>) {
    this.entries = entries.map(({ topic, events }) => {
      const star = topic.indexOf("*");
      if (topic.length === 0 || (star !== -1 && star !== topic.length - 1)) throw new Error(`topic pattern ${JSON.stringify(topic)}: a topic, or a prefix ending in "*"`);
      return { exact: star === -1, topic: star === -1 ? topic : topic.slice(0, -1), events: new Set(events) };
    });
  }

  /** Whether a client's push of `event` on `topic` is sent. */
  matches(topic: string, event: string): boolean {
    for (const entry of this.entries) {
      if (entry.exact ? topic !== entry.topic : !topic.startsWith(entry.topic)) continue;
      if (entry.events.has(event) || entry.events.has("*")) return true;
    }
    return false;
  }
}

/** Why `value` is not a valid `webhooks` setting, or null. */
export function webhooksProblem(value: object): string | null {
  try {
    resolveWebhooks(value as WebhooksSetting);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The setting with its defaults; throws an Error saying what is wrong (each message starts with the field). */
export function resolveWebhooks(setting: WebhooksSetting): WebhookSettings {
  for (const name of Object.keys(setting)) if (!KNOWN.has(name)) throw new Error(`has an unknown field "${name}" (known: ${[...KNOWN].join(", ")})`);
  const { url, secret } = setting;
  if (typeof url !== "string" || !/^https?:\/\/[^/]/.test(url)) throw new Error(`url must be an http:// or https:// URL, got ${JSON.stringify(url)}`);
  try {
    new URL(url);
  } catch {
    throw new Error(`url is not a valid URL: ${JSON.stringify(url)}`);
  }
  if (typeof secret !== "string" || secret.length < 16) throw new Error("secret must be a string of at least 16 characters");
  const events = setting.events ?? WEBHOOK_EVENT_TYPES.filter((type) => type !== "client_event" || setting.clientEvents !== undefined);
  if (!Array.isArray(events) || events.some((type) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(type))) {
    throw new Error(`events must be a list of ${WEBHOOK_EVENT_TYPES.join(", ")}`);
  }
  const clientEvents = setting.clientEvents ?? [];
  if (!Array.isArray(clientEvents) || clientEvents.some((entry) => typeof entry !== "object" || entry === null || typeof entry.topic !== "string" || !Array.isArray(entry.events) || entry.events.some((event) => typeof event !== "string"))) {
    throw new Error('clientEvents must be a list of {"topic": "room:*", "events": ["new_msg"]}');
  }
  if (events.includes("client_event") && clientEvents.length === 0) throw new Error("events has client_event but clientEvents names no topic");
  let patterns: ClientEventPatterns;
  try {
    patterns = new ClientEventPatterns(clientEvents);
  } catch (err) {
    throw new Error(`clientEvents: ${(err as Error).message}`, { cause: err });
  }
  const numbers = { ...DEFAULTS } as Record<keyof typeof DEFAULTS, number>;
  for (const name of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
    const value = setting[name];
    if (value === undefined) continue;
    const [min, max] = BOUNDS[name];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    numbers[name] = value;
  }
  if (numbers.retryMaxMs < numbers.retryMinMs) throw new Error("retryMaxMs must be at least retryMinMs");
  return { url, secret, events: new Set(events), clientEvents: patterns, ...numbers };
}
