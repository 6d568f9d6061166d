/**
 * How deep a payload nests, checked where payloads enter (client frames, the HTTP API,
 * server-side broadcasts) so that nothing downstream can fail on it: JSON.stringify overflows
 * the stack at a few thousand levels, the msgpack encoder refuses past 100, and decoding deep
 * nesting costs far more than flat data of the same size. Each check stops as soon as the
 * limit is passed, so it costs at most one pass over the input.
 */

/** Whether the JSON text `text` nests arrays and objects at most `limit` deep. */
export function jsonTextWithin(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return false;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return true;
}

/**
 * Whether the msgpack bytes nest arrays and maps at most `limit` deep. Malformed or truncated
 * input passes: the decoder refuses it with its own error.
 */
export function msgpackWithin(bytes: Uint8Array, limit: number): boolean {
  try {
    return walkMsgpack(bytes, limit);
  } catch (err) {
    // Truncated: a length read past the end.
    if (err instanceof RangeError) return true;
    throw err;
  }
}

function walkMsgpack(bytes: Uint8Array, limit: number): boolean {
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
  const done = () => {
    while (open.length > 0 && --open[open.length - 1] === 0) open.pop();
  };
  while (at < bytes.length) {
    const b = bytes[at++];
    let skip = 0;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3)) skip = 0;
    else if (b >= 0x80 && b <= 0x8f) {
      if (!container((b & 0x0f) * 2)) return false;
      continue;
    } else if (b >= 0x90 && b <= 0x9f) {
      if (!container(b & 0x0f)) return false;
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
        case 0xdc: if (!container(view.getUint16(at))) return false; at += 2; continue;
        case 0xdd: if (!container(view.getUint32(at))) return false; at += 4; continue;
        case 0xde: if (!container(view.getUint16(at) * 2)) return false; at += 2; continue;
        case 0xdf: if (!container(view.getUint32(at) * 2)) return false; at += 4; continue;
        default: return true; // 0xc1: never used; the decoder refuses it
      }
    }
    at += skip;
    done();
  }
  return true;
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
