import { inflateSync } from "node:zlib";

/**
 * Erlang's external term format (what `:erlang.term_to_binary/1` writes), for Phoenix.Token
 * payloads. The decoder accepts plain data only — integers, floats, binaries, atoms, lists,
 * tuples, maps, and compressed terms holding them — and refuses pids, ports, references, funs
 * and exports, as Plug.Crypto's `non_executable_binary_to_term` does: a token is data, never
 * something that can run or point into a node. It also bounds depth and sizes, so a crafted
 * payload costs little to refuse.
 */

/** An atom other than `true`, `false` and `nil` (those decode to true, false and null). */
export class ErlangAtom {
  constructor(readonly name: string) {}
}

export class ErlangTuple {
  constructor(readonly items: readonly ErlangTerm[]) {}
}

/** A map: Erlang keys may be any term, so entries keep their keys as terms. */
export class ErlangMap {
  constructor(readonly entries: ReadonlyArray<readonly [ErlangTerm, ErlangTerm]>) {}
}

/**
 * A decoded term. Integers are numbers when safe, else bigints; floats are numbers; binaries
 * are strings when they hold valid UTF-8 (Elixir strings), else bytes; lists (and Erlang
 * strings, which are lists of integers) are arrays.
 */
export type ErlangTerm = number | bigint | string | Uint8Array | boolean | null | ErlangAtom | ErlangTuple | ErlangMap | ErlangTerm[];

export class ErlangTermError extends Error {
  override readonly name = "ErlangTermError";
}

const VERSION = 131;
const TAG = {
  compressed: 80,
  newFloat: 70,
  bitBinary: 77,
  atomCacheRef: 82,
  float: 99,
  smallInteger: 97,
  integer: 98,
  atom: 100,
  smallTuple: 104,
  largeTuple: 105,
  nil: 106,
  string: 107,
  list: 108,
  binary: 109,
  smallBig: 110,
  largeBig: 111,
  smallAtom: 115,
  map: 116,
  atomUtf8: 118,
  smallAtomUtf8: 119,
} as const;

/** Tags of terms that are not plain data, named for the error. */
const REFUSED: Record<number, string> = {
  88: "pid",
  103: "pid",
  89: "port",
  102: "port",
  120: "port",
  90: "reference",
  114: "reference",
  101: "reference",
  112: "fun",
  117: "fun",
  113: "export (fun)",
  121: "local term",
  82: "atom cache reference",
};

export interface DecodeLimits {
  /** Nesting of lists, tuples and maps (default 64). */
  maxDepth?: number;
  /** Bytes of the term, after decompression (default 64 KiB: tokens are small). */
  maxBytes?: number;
}

/** Decodes `bytes` (starting with the version byte 131); throws ErlangTermError on anything else. */
export function decodeErlangTerm(bytes: Uint8Array, limits: DecodeLimits = {}): ErlangTerm {
  const maxBytes = limits.maxBytes ?? 64 * 1024;
  if (bytes.length > maxBytes) throw new ErlangTermError(`term of ${bytes.length} bytes is over the ${maxBytes}-byte limit`);
  if (bytes[0] !== VERSION) throw new ErlangTermError("not an Erlang term: the first byte must be 131");
  let body = Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.byteLength - 1);
  if (body[0] === TAG.compressed) {
    if (body.length < 5) throw new ErlangTermError("truncated compressed term");
    const size = body.readUInt32BE(1);
    if (size > maxBytes) throw new ErlangTermError(`compressed term of ${size} bytes is over the ${maxBytes}-byte limit`);
    let inflated: Buffer;
    try {
      // maxOutputLength stops a zip bomb before it is inflated.
      inflated = inflateSync(body.subarray(5), { maxOutputLength: Math.max(size, 1) });
    } catch {
      throw new ErlangTermError("compressed term does not inflate to its stated size");
    }
    if (inflated.length !== size) throw new ErlangTermError("compressed term does not inflate to its stated size");
    body = inflated;
  }
  const reader = new TermReader(body, limits.maxDepth ?? 64);
  const term = reader.term(0);
  if (!reader.done) throw new ErlangTermError("bytes left after the term");
  return term;
}

class TermReader {
  private offset = 0;
  constructor(private readonly buf: Buffer, private readonly maxDepth: number) {}

  get done(): boolean {
    return this.offset === this.buf.length;
  }

  term(depth: number): ErlangTerm {
    const tag = this.u8();
    switch (tag) {
      case TAG.smallInteger:
        return this.u8();
      case TAG.integer:
        return this.take(4).readInt32BE(0);
      case TAG.newFloat:
        return this.take(8).readDoubleBE(0);
      case TAG.float: {
        // The old textual float ("%.20e" padded with NULs).
        const value = Number(this.take(31).toString("latin1").replace(/\0+$/, ""));
        if (!Number.isFinite(value)) throw new ErlangTermError("bad float");
        return value;
      }
      case TAG.smallBig:
        return this.big(this.u8());
      case TAG.largeBig:
        return this.big(this.u32());
      case TAG.atom:
        return atom(this.take(this.u16()).toString("latin1"));
      case TAG.smallAtom:
        return atom(this.take(this.u8()).toString("latin1"));
      case TAG.atomUtf8:
        return atom(this.take(this.u16()).toString("utf8"));
      case TAG.smallAtomUtf8:
        return atom(this.take(this.u8()).toString("utf8"));
      case TAG.binary:
        return binary(this.take(this.u32()));
      case TAG.nil:
        return [];
      case TAG.string:
        return [...this.take(this.u16())];
      case TAG.smallTuple:
        return new ErlangTuple(this.items(this.u8(), depth));
      case TAG.largeTuple:
        return new ErlangTuple(this.items(this.u32(), depth));
      case TAG.list: {
        const items = this.items(this.u32(), depth);
        if (this.u8() !== TAG.nil) throw new ErlangTermError("improper lists are not supported");
        return items;
      }
      case TAG.map: {
        const arity = this.u32();
        this.room(arity * 2, depth);
        const entries: Array<[ErlangTerm, ErlangTerm]> = [];
        for (let i = 0; i < arity; i++) entries.push([this.term(depth + 1), this.term(depth + 1)]);
        return new ErlangMap(entries);
      }
      case TAG.bitBinary:
        throw new ErlangTermError("bitstrings that are not whole bytes are not supported");
      case TAG.compressed:
        throw new ErlangTermError("a compressed term may only be the whole term");
      default:
        throw new ErlangTermError(REFUSED[tag] ? `refused a ${REFUSED[tag]}: only plain data is accepted` : `unknown term tag ${tag}`);
    }
  }

  private items(count: number, depth: number): ErlangTerm[] {
    this.room(count, depth);
    const items: ErlangTerm[] = [];
    for (let i = 0; i < count; i++) items.push(this.term(depth + 1));
    return items;
  }

  /** Every item takes at least one byte: a count past what is left is a lie, refused before allocating. */
  private room(count: number, depth: number): void {
    if (depth + 1 > this.maxDepth) throw new ErlangTermError(`nested deeper than ${this.maxDepth}`);
    if (count > this.buf.length - this.offset) throw new ErlangTermError("truncated term");
  }

  private big(size: number): number | bigint {
    if (size > 256) throw new ErlangTermError("integer too large");
    const sign = this.u8();
    const digits = this.take(size);
    let value = 0n;
    for (let i = size - 1; i >= 0; i--) value = (value << 8n) | BigInt(digits[i]);
    if (sign) value = -value;
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }

  private take(length: number): Buffer {
    if (length > this.buf.length - this.offset) throw new ErlangTermError("truncated term");
    const slice = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  private u8(): number {
    return this.take(1)[0];
  }

  private u16(): number {
    return this.take(2).readUInt16BE(0);
  }

  private u32(): number {
    return this.take(4).readUInt32BE(0);
  }
}

function atom(name: string): ErlangTerm {
  if (name === "true") return true;
  if (name === "false") return false;
  if (name === "nil") return null;
  return new ErlangAtom(name);
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function binary(bytes: Buffer): string | Uint8Array {
  try {
    return utf8.decode(bytes);
  } catch {
    return new Uint8Array(bytes);
  }
}

/** A JavaScript value for a decoded term: what a token's data becomes in assigns and identities. */
export type PlainValue = number | string | boolean | null | Uint8Array | PlainValue[] | { [key: string]: PlainValue };

/**
 * Converts a decoded term to plain JavaScript: atoms become their names, tuples arrays, maps
 * objects (keys as text), integers beyond the safe range decimal strings.
 */
export function erlangToPlain(term: ErlangTerm): PlainValue {
  if (typeof term === "bigint") return term.toString();
  if (term instanceof ErlangAtom) return term.name;
  if (term instanceof ErlangTuple) return term.items.map(erlangToPlain);
  if (Array.isArray(term)) return term.map(erlangToPlain);
  if (term instanceof ErlangMap) {
    // fromEntries defines own properties, so a "__proto__" key is data, not a prototype.
    return Object.fromEntries(term.entries.map(([key, value]) => [keyText(key), erlangToPlain(value)]));
  }
  return term;
}

function keyText(key: ErlangTerm): string {
  const plain = erlangToPlain(key);
  return typeof plain === "string" ? plain : JSON.stringify(plain, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v));
}
