/**
 * How deep a payload nests, checked where payloads enter (client frames, the HTTP API,
 * server-side broadcasts) so that nothing downstream can fail on it: JSON.stringify overflows
 * the stack at a few thousand levels, the msgpack encoder refuses past 100, and decoding deep
 * nesting costs far more than flat data of the same size. The scans of client frames also
 * weigh what decoding the frame will cost beyond its bytes (VALUE_BYTES; socket/inbound-budget.ts
 * charges it). Each check stops as soon as a limit is passed, so it costs at most one pass over
 * the input.
 */

/** A scan stopped at a level deeper than its depth limit. */
export const TOO_DEEP = -1;
/** A scan stopped once the decode cost passed its limit. */
export const TOO_COSTLY = -2;

/**
 * What decoding costs beyond reading bytes, in bytes of the same cost: decoders spend their time
 * on the values they build, most of all on the members of large objects. Measured with
 * JSON.parse and @msgpack/msgpack, 1 MB of empty maps decodes about 40 times slower than a 1 MB
 * string, and an object's members past its 16th cost several times what the first ones do
 * (hidden classes give way to dictionaries, and the decoder's key cache to misses).
 */
export const VALUE_BYTES = 16;
export const CROWDED_MEMBER_BYTES = 256;
/** Members an object holds before each further one counts as crowded. */
export const UNCROWDED_MEMBERS = 16;

/**
 * The decode cost (see VALUE_BYTES) of the JSON text `text`: its arrays and objects, the commas
 * and colons between their members (about one per value), and each member of an object past its
 * 16th; or TOO_DEEP once it nests arrays and objects deeper than `depthLimit`, or TOO_COSTLY once
 * the cost passes `costLimit`. Strings are skipped whole (indexOf), not read one by one.
 */
export function jsonTextCost(text: string, depthLimit: number, costLimit = Infinity): number {
  let depth = 0;
  let cost = 0;
  // Members of the object open at each depth (a colon only ever follows an object's key).
  const members: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = closingQuote(text, i);
      continue;
    }
    if (c === 0x5b || c === 0x7b) {
      if (++depth > depthLimit) return TOO_DEEP;
      members[depth] = 0;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
      continue;
    } else if (c === 0x3a) {
      if (++members[depth] > UNCROWDED_MEMBERS) cost += CROWDED_MEMBER_BYTES;
    } else if (c !== 0x2c) continue;
    cost += VALUE_BYTES;
    if (cost > costLimit) return TOO_COSTLY;
  }
  return cost;
}

/** Where the string opened at `open` ends: the next quote after an even run of backslashes (or the end). */
function closingQuote(text: string, open: number): number {
  for (let at = text.indexOf('"', open + 1); at >= 0; at = text.indexOf('"', at + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
  return text.length;
}

/**
 * The decode cost (see VALUE_BYTES) of the msgpack bytes: every array, map, key and element,
 * and each entry of a map past its 16th; or TOO_DEEP once they nest arrays and maps deeper than
 * `depthLimit`, or TOO_COSTLY once the cost passes `costLimit`. Malformed or truncated input
 * gets the cost so far: the decoder refuses it with its own error.
 */
export function msgpackCost(bytes: Uint8Array, depthLimit: number, costLimit = Infinity): number {
  const tally = { cost: 0 };
  try {
    return walkMsgpack(bytes, depthLimit, costLimit, tally);
  } catch (err) {
    // Truncated: a length read past the end.
    if (err instanceof RangeError) return tally.cost;
    throw err;
  }
}

function walkMsgpack(bytes: Uint8Array, limit: number, costLimit: number, tally: { cost: number }): number {
  // Items still to read in each open container; one entry per level.
  const open: number[] = [];
  let at = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const container = (items: number): boolean => {
    if (items > 0) {
      if (open.length >= limit) return false;
      open.push(items);
    } else done();
    return true;
  };
  const map = (entries: number): boolean => {
    if (entries > UNCROWDED_MEMBERS) tally.cost += (entries - UNCROWDED_MEMBERS) * CROWDED_MEMBER_BYTES;
    return container(entries * 2);
  };
  const done = () => {
    while (open.length > 0 && --open[open.length - 1] === 0) open.pop();
  };
  while (at < bytes.length) {
    tally.cost += VALUE_BYTES;
    if (tally.cost > costLimit) return TOO_COSTLY;
    const b = bytes[at++];
    let skip = 0;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3)) skip = 0;
    else if (b >= 0x80 && b <= 0x8f) {
      if (!map(b & 0x0f)) return TOO_DEEP;
      continue;
    } else if (b >= 0x90 && b <= 0x9f) {
      if (!container(b & 0x0f)) return TOO_DEEP;
      continue;
    } else if (b >= 0xa0 && b <= 0xbf) skip = b & 0x1f;
    else {
      switch (b) {
        case 0xc4: case 0xd9: skip = 1 + (bytes[at] ?? 0); break; // bin8, str8
        case 0xc5: case 0xda: skip = 2 + view.getUint16(at); break; // bin16, str16
        case 0xc6: case 0xdb: skip = 4 + view.getUint32(at); break; // bin32, str32
        case 0xc7: skip = 2 + (bytes[at] ?? 0); break; // ext8
        case 0xc8: skip = 3 + view.getUint16(at); break; // ext16
        case 0xc9: skip = 5 + view.getUint32(at); break; // ext32
        case 0xca: skip = 4; break;
        case 0xcb: skip = 8; break;
        case 0xcc: case 0xd0: skip = 1; break;
        case 0xcd: case 0xd1: skip = 2; break;
        case 0xce: case 0xd2: skip = 4; break;
        case 0xcf: case 0xd3: skip = 8; break;
        case 0xd4: skip = 2; break; // fixext 1..16: type + data
        case 0xd5: skip = 3; break;
        case 0xd6: skip = 5; break;
        case 0xd7: skip = 9; break;
        case 0xd8: skip = 17; break;
        case 0xdc: if (!container(view.getUint16(at))) return TOO_DEEP; at += 2; continue;
        case 0xdd: if (!container(view.getUint32(at))) return TOO_DEEP; at += 4; continue;
        case 0xde: if (!map(view.getUint16(at))) return TOO_DEEP; at += 2; continue;
        case 0xdf: if (!map(view.getUint32(at))) return TOO_DEEP; at += 4; continue;
        default: return tally.cost; // 0xc1: never used; the decoder refuses it
      }
    }
    at += skip;
    done();
  }
  return tally.cost;
}

/** Whether a JavaScript value nests arrays and plain objects at most `limit` deep (a cycle never is). */
export function valueWithin(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (item === null || typeof item !== "object" || ArrayBuffer.isView(item) || item instanceof ArrayBuffer) continue;
    if (depth + 1 > limit) return false;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return true;
}
