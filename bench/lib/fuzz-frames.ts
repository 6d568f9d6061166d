/**
 * Frames a hostile or broken client might send, as fast-check arbitraries: the fuzz property
 * test samples them against a live server, and `npm run bench -- fuzz` samples a million.
 */
import { encode } from "@msgpack/msgpack";
import fc from "fast-check";

/** One frame: on a JSON or a msgpack socket, as a text or a binary WebSocket message. */
export interface FuzzFrame {
  serializer: "json" | "msgpack";
  binary: boolean;
  data: string | Uint8Array;
}

const topic = fc.oneof(fc.constantFrom("room:fuzz", "phoenix", "nope", ""), fc.string({ maxLength: 40 }));
const event = fc.oneof(fc.constantFrom("phx_join", "phx_leave", "heartbeat", "new_msg", "ping", "phx_reply"), fc.string({ maxLength: 20 }));
/** Refs of any type: phoenix.js sends strings, a hostile client anything. */
const ref = fc.oneof(fc.constant(null), fc.string({ maxLength: 8 }), fc.integer(), fc.double(), fc.boolean(), fc.object({ maxDepth: 1 }));
const payload = fc.oneof(fc.object({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }), fc.constant({}), fc.constant({ user: "fuzz", body: "hi" }));
const frameArray = fc.tuple(ref, ref, topic, event, payload);

/** The JSON text of arrays nested `depth` deep, or of a number no double holds. */
const pathologicalJson = fc.oneof(
  fc.integer({ min: 2, max: 5000 }).map((depth) => `["1","1","room:fuzz","new_msg",${"[".repeat(depth)}${"]".repeat(depth)}]`),
  fc.constantFrom('["1","1","room:fuzz","new_msg",{"n":1e400}]', '["1","1","room:fuzz","new_msg",{"n":-1e400}]', '["1","1","room:fuzz","new_msg",{"n":123456789012345678901234567890}]'),
  fc.constantFrom('["1","1","room:fuzz","new_msg"', "[", "]", "{}", "null", '"x"', "[1,2,3,4,5,6]", '[null,null,null,null,null]'),
);

const jsonText = fc.oneof(
  { weight: 4, arbitrary: frameArray.map((frame) => JSON.stringify(frame)) },
  { weight: 2, arbitrary: pathologicalJson },
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 100 }) },
);

/** V2 binary frames (a push of bytes) with lengths that may lie. */
const binaryPush = fc.tuple(fc.uint8Array({ maxLength: 6 }), fc.uint8Array({ maxLength: 64 })).map(([header, rest]) => Uint8Array.from([0, ...header, ...rest]));

/** Msgpack bytes: a frame-shaped value, anything msgpack holds, deep nesting, or plain noise. */
const msgpackBytes = fc.oneof(
  frameArray.map((frame) => encode(frame)),
  fc.anything({ maxDepth: 3 }).map((value) => {
    try {
      return encode(value);
    } catch {
      return Uint8Array.of(0xc1);
    }
  }),
  fc.integer({ min: 2, max: 100_000 }).map((depth) => {
    // [nil, nil, "r", "e", [[[…nil…]]]]: a frame whose payload is `depth` arrays deep.
    const bytes = new Uint8Array(7 + depth + 1).fill(0x91);
    bytes.set([0x95, 0xc0, 0xc0, 0xa1, 0x72, 0xa1, 0x65]);
    bytes[bytes.length - 1] = 0xc0;
    return bytes;
  }),
  fc.uint8Array({ maxLength: 200 }),
);

export const fuzzFrame: fc.Arbitrary<FuzzFrame> = fc.oneof(
  { weight: 5, arbitrary: jsonText.map((data): FuzzFrame => ({ serializer: "json", binary: false, data })) },
  { weight: 2, arbitrary: binaryPush.map((data): FuzzFrame => ({ serializer: "json", binary: true, data })) },
  // Random bytes sent as text: mostly invalid UTF-8.
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 100 }).map((data): FuzzFrame => ({ serializer: "json", binary: false, data })) },
  { weight: 3, arbitrary: msgpackBytes.map((data): FuzzFrame => ({ serializer: "msgpack", binary: true, data })) },
);

/** The close codes a fuzzed socket may end with (docs/security.md); 1006 only for invalid UTF-8. */
export const EXPECTED_CLOSE_CODES: ReadonlySet<number> = new Set([1006, 1007, 1008, 1009]);
