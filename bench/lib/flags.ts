/** `--name value` / `--name=value` / bare `--switch` command-line flags with typed getters. */
export interface Flags {
  string(name: string, fallback: string): string;
  number(name: string, fallback: number): number;
  numbers(name: string, fallback: number[]): number[];
  strings(name: string, fallback: string[]): string[];
  has(name: string): boolean;
}

export function parseFlags(args: readonly string[]): Flags {
  const values = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument: ${arg}`);
    const eq = arg.indexOf("=");
    if (eq > 0) values.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (i + 1 < args.length && !args[i + 1].startsWith("--")) values.set(arg.slice(2), args[++i]);
    else values.set(arg.slice(2), "true");
  }
  const list = (name: string): string[] | undefined =>
    values.get(name)?.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  const toNumber = (name: string, raw: string): number => {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new Error(`--${name} needs a number, got ${raw}`);
    return n;
  };
  return {
    string: (name, fallback) => values.get(name) ?? fallback,
    number: (name, fallback) => {
      const raw = values.get(name);
      return raw === undefined ? fallback : toNumber(name, raw);
    },
    numbers: (name, fallback) => list(name)?.map((s) => toNumber(name, s)) ?? fallback,
    strings: (name, fallback) => list(name) ?? fallback,
    has: (name) => values.has(name),
  };
}
