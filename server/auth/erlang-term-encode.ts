import { ErlangAtom, ErlangMap, ErlangTermError, ErlangTuple, type ErlangTerm } from "./erlang-term.js";

/**
 * What `encodeErlangTerm` takes: decoded terms, plus plain objects (maps with binary keys, as
 * Elixir's `%{"key" => value}`). `true`, `false` and `null` are the atoms true, false and nil.
 */
export type EncodableTerm = ErlangTerm | EncodableTerm[] | { readonly [key: string]: EncodableTerm };

/**
 * `:erlang.term_to_binary/1` as OTP 25 writes plain data (Phoenix.Token needs only this much):
 * the same bytes for the same term, so tokens signed here match tokens signed by Elixir.
 * Integral numbers are integers, other numbers floats (NEW_FLOAT_EXT); strings are binaries.
 */
export function encodeErlangTerm(term: EncodableTerm): Buffer {
  const parts: Buffer[] = [Buffer.from([131])];
  write(term, parts, 0);
  return Buffer.concat(parts);
}

const MAX_DEPTH = 64;

function write(term: EncodableTerm, out: Buffer[], depth: number): void {
  if (depth > MAX_DEPTH) throw new ErlangTermError(`nested deeper than ${MAX_DEPTH}`);
  if (term === true || term === false) return writeAtom(String(term), out);
  if (term === null) return writeAtom("nil", out);
  if (typeof term === "number") return Number.isInteger(term) ? writeInteger(BigInt(term), out) : writeFloat(term, out);
  if (typeof term === "bigint") return writeInteger(term, out);
  if (typeof term === "string") return writeBinary(Buffer.from(term, "utf8"), out);
  if (term instanceof Uint8Array) return writeBinary(Buffer.from(term), out);
  if (term instanceof ErlangAtom) return writeAtom(term.name, out);
  if (term instanceof ErlangTuple) {
    const { items } = term;
    out.push(items.length < 256 ? Buffer.from([104, items.length]) : header(105, items.length));
    for (const item of items) write(item, out, depth + 1);
    return;
  }
  if (Array.isArray(term)) {
    // A list of bytes is written as STRING_EXT (Erlang's charlists), as term_to_binary does.
    if (term.length > 0 && term.length < 65536 && term.every((item) => typeof item === "number" && Number.isInteger(item) && item >= 0 && item <= 255)) {
      const head = Buffer.from([107, 0, 0]);
      head.writeUInt16BE(term.length, 1);
      out.push(head, Buffer.from(term as number[]));
      return;
    }
    if (term.length > 0) {
      out.push(header(108, term.length));
      for (const item of term) write(item, out, depth + 1);
    }
    out.push(Buffer.from([106]));
    return;
  }
  const entries: Array<readonly [EncodableTerm, EncodableTerm]> =
    term instanceof ErlangMap
      ? [...term.entries]
      : // Erlang orders a small map's binary keys bytewise.
        Object.entries(term).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  out.push(header(116, entries.length));
  for (const [key, value] of entries) {
    write(key, out, depth + 1);
    write(value, out, depth + 1);
  }
}

function header(tag: number, length: number): Buffer {
  const buf = Buffer.alloc(5);
  buf[0] = tag;
  buf.writeUInt32BE(length, 1);
  return buf;
}

function writeInteger(value: bigint, out: Buffer[]): void {
  if (value >= 0n && value <= 255n) return void out.push(Buffer.from([97, Number(value)]));
  if (value >= -(2n ** 31n) && value < 2n ** 31n) {
    const buf = Buffer.alloc(5);
    buf[0] = 98;
    buf.writeInt32BE(Number(value), 1);
    return void out.push(buf);
  }
  const digits: number[] = [];
  for (let rest = value < 0n ? -value : value; rest > 0n; rest >>= 8n) digits.push(Number(rest & 0xffn));
  if (digits.length > 255) throw new ErlangTermError("integer too large");
  out.push(Buffer.from([110, digits.length, value < 0n ? 1 : 0, ...digits]));
}

function writeFloat(value: number, out: Buffer[]): void {
  if (!Number.isFinite(value)) throw new ErlangTermError("Erlang has no NaN or Infinity");
  const buf = Buffer.alloc(9);
  buf[0] = 70;
  buf.writeDoubleBE(value, 1);
  out.push(buf);
}

function writeBinary(bytes: Buffer, out: Buffer[]): void {
  out.push(header(109, bytes.length), bytes);
}

/** ATOM_EXT with Latin-1 text when it fits (as OTP 25 writes), else SMALL_ATOM_UTF8_EXT. */
function writeAtom(name: string, out: Buffer[]): void {
  if (/^[\0-\xff]*$/.test(name) && name.length < 256) {
    const buf = Buffer.alloc(3);
    buf[0] = 100;
    buf.writeUInt16BE(name.length, 1);
    return void out.push(buf, Buffer.from(name, "latin1"));
  }
  const bytes = Buffer.from(name, "utf8");
  if (bytes.length > 255) throw new ErlangTermError("atom too long");
  out.push(Buffer.from([119, bytes.length]), bytes);
}
