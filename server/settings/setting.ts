/**
 * The kinds of setting the settings table is made of (settings/table.ts). Each kind knows how to
 * read its value from a CLI flag or an env var, how to check a value given in code, and how to
 * describe itself in `--help` and docs/configuration.md; the value's TypeScript type rides along,
 * so ServerConfig is derived from the table.
 */

/** Decides whether a browser Origin may open a socket (the `checkOrigin` setting). */
export type OriginCheck = boolean | readonly string[] | ((origin: string, host: string) => boolean);

/** The settings resolved before this one (the table's order): what a computed default may read. */
export type Resolved = Readonly<Record<string, unknown>>;

/** Headings of --help and of the configuration reference, in their order. */
export const GROUPS = ["Serving", "Security", "Cluster", "Limits", "Slow consumers and drains", "Presence", "History", "Counters and topic workers", "LongPoll", "Backend hooks", "Webhooks"] as const;
export type Group = (typeof GROUPS)[number];

/** Every duration is in milliseconds; the other units a setting may count in. */
export type Unit = "ms" | "bytes" | "characters" | "per second" | "levels" | "messages" | "channels" | "pushes" | "sockets" | "keys" | "requests" | "threads";

/** What the table says about one setting: the same for every kind. */
interface Described {
  group: Group;
  /** One or two sentences: what it does, and what a client sees when it bites. */
  description: string;
}

/** A default worked out when the settings are resolved (from the machine, or from settings before it). */
export class Computed<T> {
  constructor(
    /** The default in words, for --help and the docs. */
    readonly text: string,
    readonly compute: (resolved: Resolved) => T,
  ) {}
}

export const computed = <T>(text: string, compute: (resolved: Resolved) => T) => new Computed(text, compute);

/** One setting of the table; `T` is the type of its value in ServerConfig. */
export interface Setting<T> extends Described {
  /** For the docs: "integer", "boolean", "string", "JSON"… */
  readonly type: string;
  readonly unit?: Unit;
  /** For the docs: the values it takes, e.g. "8000–960000, or 0 = never". */
  readonly bounds: string;
  /** For --help: what follows the flag, e.g. `<ms>`. */
  readonly placeholder: string;
  readonly defaultText: string;
  /** The value when none is given. */
  defaultValue(resolved: Resolved): T;
  /** Reads a flag or env var (never empty); throws a SettingProblem. */
  parse(raw: string): T;
  /** What is wrong with a value given in code or parsed, e.g. "must be an integer from 0 to 65535, got 99999"; null when it is fine. */
  problem(value: unknown): string | null;
}

/** A value a setting refuses; the message follows the setting's name ("port must be …"). */
export class SettingProblem extends Error {
  override readonly name = "SettingProblem";
}

function defaultOf<T>(value: T | Computed<T>, text: (value: T) => string): Pick<Setting<T>, "defaultValue" | "defaultText"> {
  if (value instanceof Computed) return { defaultValue: value.compute, defaultText: value.text };
  return { defaultValue: () => value, defaultText: text(value) };
}

const quote = (raw: string) => JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw);

interface IntegerSpec extends Described {
  default: number | Computed<number>;
  min: number;
  max: number;
  unit?: Unit;
  /** What 0 means, when 0 is allowed (inside the bounds, or besides them: "never"). */
  zero?: string;
}

export function integer(spec: IntegerSpec): Setting<number> {
  const { min, max, zero } = spec;
  const range = `${min}–${max}`;
  const bounds = zero === undefined ? range : min === 0 ? `${range}; 0 = ${zero}` : `${range}, or 0 = ${zero}`;
  const placeholder = spec.unit === "ms" ? "<ms>" : spec.unit === "bytes" ? "<bytes>" : "<n>";
  return {
    ...spec,
    type: "integer",
    bounds,
    placeholder,
    ...defaultOf(spec.default, (value) => (spec.unit === "bytes" ? withBinaryUnit(value) : String(value))),
    parse(raw) {
      const value = Number(raw);
      if (!Number.isInteger(value)) throw new SettingProblem(`must be an integer, got ${quote(raw)}`);
      return value;
    },
    problem(value) {
      if (typeof value === "number" && Number.isInteger(value) && ((value >= min && value <= max) || (value === 0 && zero !== undefined))) return null;
      const or = zero !== undefined && min > 0 ? ", or 0" : "";
      return `must be an integer from ${min} to ${max}${or}, got ${describe(value)}`;
    },
  };
}

export function flag(spec: Described & { default: boolean | Computed<boolean> }): Setting<boolean> {
  return {
    ...spec,
    type: "boolean",
    bounds: "",
    placeholder: "<true|false>",
    ...defaultOf(spec.default, String),
    parse(raw) {
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new SettingProblem(`must be true or false, got ${quote(raw)}`);
    },
    problem: (value) => (typeof value === "boolean" ? null : `must be true or false, got ${describe(value)}`),
  };
}

interface TextSpec extends Described {
  /** What follows the flag in --help, e.g. `<url>`. */
  placeholder: string;
  /** A shape the value must have, and how the docs say it. */
  format?: { pattern: RegExp; says: string };
}

function textSetting<T extends string | undefined>(spec: TextSpec, given: T | Computed<T>): Setting<T> {
  const { format } = spec;
  return {
    ...spec,
    type: "string",
    bounds: format?.says ?? "",
    ...defaultOf(given, (value) => (value === undefined ? "unset" : value)),
    parse: (raw) => raw as T,
    problem(value) {
      if (typeof value !== "string") return `must be a string, got ${describe(value)}`;
      if (format && !format.pattern.test(value)) return `must be ${format.says}, got ${quote(value)}`;
      return null;
    },
  };
}

/** A string with a default. */
export const text = (spec: TextSpec & { default: string | Computed<string> }): Setting<string> => textSetting(spec, spec.default);

/** A string that may stay unset (a key, a URL), or whose default comes from another setting. */
export const optionalText = (spec: TextSpec & { default?: Computed<string | undefined> }): Setting<string | undefined> =>
  textSetting<string | undefined>(spec, spec.default ?? undefined);

export function choice<const C extends readonly string[]>(choices: C, spec: Described & { default: C[number]; placeholder: string }): Setting<C[number]> {
  const known = (value: unknown): value is C[number] => typeof value === "string" && choices.includes(value);
  return {
    ...spec,
    type: "string",
    bounds: choices.join(", "),
    ...defaultOf(spec.default, String),
    parse(raw) {
      if (!known(raw)) throw new SettingProblem(`must be one of ${choices.join(", ")}, got ${quote(raw)}`);
      return raw;
    },
    problem: (value) => (known(value) ? null : `must be one of ${choices.join(", ")}, got ${describe(value)}`),
  };
}

/** `checkOrigin`: true, false, a list of origins and `//host` patterns, or (in code) a function. */
export function origins(spec: Described & { default: OriginCheck }): Setting<OriginCheck> {
  return {
    ...spec,
    type: "boolean or list",
    bounds: "true, false, or a comma-separated list of origins (https://app.example.com) and //host patterns (//example.com, //*.example.com)",
    placeholder: "<true|false|list>",
    ...defaultOf<OriginCheck>(spec.default, String),
    parse(raw) {
      if (/^(1|true)$/i.test(raw)) return true;
      if (/^(0|false)$/i.test(raw)) return false;
      return raw.split(",").map((s) => s.trim()).filter(Boolean);
    },
    problem(value) {
      if (typeof value === "boolean" || typeof value === "function") return null;
      if (Array.isArray(value) && value.every((item) => typeof item === "string")) return null;
      return `must be true, false, a list of origins or a function, got ${describe(value)}`;
    },
  };
}

/** A structured setting: JSON in a flag or env var, an object in code. Unset by default. */
export function json<T extends object>(spec: Described & { example: string }): Setting<T | undefined> {
  return {
    ...spec,
    type: "JSON",
    bounds: `e.g. ${spec.example}`,
    placeholder: "<json>",
    defaultValue: () => undefined,
    defaultText: "unset",
    parse(raw) {
      try {
        return JSON.parse(raw) as T;
      } catch {
        throw new SettingProblem(`must be JSON, e.g. '${spec.example}'`);
      }
    },
    // The shape is checked where the setting is understood (see resolveConfig).
    problem: (value) => (typeof value === "object" && value !== null ? null : `must be an object, e.g. ${spec.example}`),
  };
}

/** 1048576 → "1048576 (1 MiB)": the number to type, and what it is. */
function withBinaryUnit(bytes: number): string {
  for (const [unit, size] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes} (${bytes / size} ${unit})`;
  }
  return String(bytes);
}

function describe(value: unknown): string {
  if (typeof value === "string") return quote(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) return String(value);
  return typeof value;
}
