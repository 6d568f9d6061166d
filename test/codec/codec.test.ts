import { describe, expect, it } from "vitest";
import { CodecError, decodeBinary, decodeJson, encodeBinary, encodeJson, jsonSerializer } from "../../client/codec/index.js";
import { msgpackSerializer } from "../../client/codec/msgpack.js";

const bytes = (...parts: Array<number | string>) =>
  new Uint8Array(parts.flatMap((p) => (typeof p === "number" ? [p] : [...Buffer.from(p)])));

describe("V2 JSON", () => {
  it("encodes the 5-element array with null refs", () => {
    expect(encodeJson({ joinRef: null, ref: "1", topic: "phoenix", event: "heartbeat", payload: {} })).toBe('[null,"1","phoenix","heartbeat",{}]');
  });
  it("decodes and ignores extra elements, as Phoenix does", () => {
    expect(decodeJson('["1","2","t","e",{"a":1},"extra"]')).toEqual({ joinRef: "1", ref: "2", topic: "t", event: "e", payload: { a: 1 } });
  });
  it.each([
    ["not json", "valid JSON"],
    ['{"topic":"t"}', "must be an array"],
    ['["1","2","t","e"]', "must be an array"],
    ['["1","2","","e",{}]', "topic"],
    ['["1","2","t","",{}]', "event"],
    ['["1","2","t","e","str"]', "payload"],
    ['["1","2","t","e",null]', "payload"],
    ['[1,"2","t","e",{}]', "join_ref"],
  ])("rejects %s", (text, message) => {
    expect(() => decodeJson(text)).toThrow(CodecError);
    expect(() => decodeJson(text)).toThrow(message);
  });
});

describe("V2 binary frames (fixtures from Phoenix's serializer)", () => {
  it("decodes Phoenix's client push fixture <<0,2,3,5,5,\"12\",\"123\",\"topic\",\"event\",101,102,103>>", () => {
    const frame = decodeBinary(bytes(0, 2, 3, 5, 5, "12", "123", "topic", "event", 101, 102, 103), "toServer");
    expect(frame).toMatchObject({ joinRef: "12", ref: "123", topic: "topic", event: "event" });
    expect([...new Uint8Array(frame.payload as ArrayBuffer)]).toEqual([101, 102, 103]);
  });
  it("encodes a client push as phoenix.js does", () => {
    const out = encodeBinary({ joinRef: "0", ref: "1", topic: "t", event: "e", payload: new Uint8Array([1]) }, "toServer");
    expect(Buffer.from(out).toString("latin1")).toBe("\0\x01\x01\x01\x0101te\x01");
  });
  it("encodes server pushes (no ref), replies and broadcasts, and decodes them back", () => {
    const payload = new Uint8Array([9, 8]);
    const push = encodeBinary({ joinRef: "5", ref: null, topic: "t", event: "ev", payload }, "toClient");
    expect([...push]).toEqual([0, 1, 1, 2, ...Buffer.from("5tev"), 9, 8]);
    const reply = encodeBinary({ joinRef: "5", ref: "6", topic: "t", event: "phx_reply", payload: { status: "ok", response: payload } }, "toClient");
    expect([...reply]).toEqual([1, 1, 1, 1, 2, ...Buffer.from("56tok"), 9, 8]);
    const broadcast = encodeBinary({ joinRef: null, ref: null, topic: "t", event: "ev", payload }, "toClient");
    expect([...broadcast]).toEqual([2, 1, 2, ...Buffer.from("tev"), 9, 8]);
    expect(decodeBinary(reply, "toClient")).toMatchObject({ joinRef: "5", ref: "6", event: "phx_reply", payload: { status: "ok" } });
    expect(decodeBinary(broadcast, "toClient")).toMatchObject({ joinRef: null, ref: null, topic: "t", event: "ev" });
  });
  it("rejects unknown kinds, truncated headers, invalid UTF-8 and fields over 255 bytes", () => {
    expect(() => decodeBinary(bytes(7, 0, 0, 0, 0), "toServer")).toThrow("kind");
    expect(() => decodeBinary(bytes(0, 1), "toServer")).toThrow("truncated");
    expect(() => decodeBinary(bytes(0, 0, 0, 1, 1, 0xff, "e"), "toServer")).toThrow("UTF-8");
    expect(() => encodeBinary({ joinRef: null, ref: null, topic: "x".repeat(256), event: "e", payload: new Uint8Array() }, "toClient")).toThrow("255");
  });
  it("gives exactly the payload bytes when the frame is a view into a larger buffer (a pooled Node Buffer)", () => {
    const frame = encodeBinary({ joinRef: null, ref: null, topic: "t", event: "ev", payload: new Uint8Array([9, 8]) }, "toClient");
    // Buffer.from(string) comes from Node's 8 KiB pool: its .buffer is the whole pool.
    const pooled = Buffer.from(Buffer.from(frame).toString("latin1"), "latin1");
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    const payload = decodeBinary(pooled, "toClient").payload as ArrayBuffer;
    expect([...new Uint8Array(payload)]).toEqual([9, 8]);
  });
  it("is chosen by the JSON serializer only for byte payloads", () => {
    expect(jsonSerializer.encode({ joinRef: null, ref: null, topic: "t", event: "e", payload: {} }, "toClient").binary).toBe(false);
    expect(jsonSerializer.encode({ joinRef: null, ref: null, topic: "t", event: "e", payload: new ArrayBuffer(2) }, "toClient").binary).toBe(true);
  });
});

describe("msgpack serializer", () => {
  it("round-trips objects and raw bytes", () => {
    const frame = { joinRef: "1", ref: "2", topic: "t", event: "e", payload: { n: 1, s: "x", bin: new Uint8Array([1, 2]) } };
    const encoded = msgpackSerializer.encode(frame, "toServer");
    expect(encoded.binary).toBe(true);
    expect(msgpackSerializer.decode(encoded.data as Uint8Array, "toServer")).toEqual(frame);
  });
  it("writes ArrayBuffers, at any depth, as bytes (msgpack itself would write an empty map)", () => {
    const buffer = new Uint8Array([7, 8, 9]).buffer;
    const plain = { list: [1, { s: "x" }] };
    const frame = { joinRef: null, ref: "2", topic: "t", event: "phx_reply", payload: { status: "ok", response: { buffer, nested: [buffer], plain } } };
    const decoded = msgpackSerializer.decode(msgpackSerializer.encode(frame, "toClient").data as Uint8Array, "toClient");
    const response = (decoded.payload as { response: { buffer: Uint8Array; nested: Uint8Array[]; plain: unknown } }).response;
    expect(response.buffer).toEqual(new Uint8Array([7, 8, 9]));
    expect(response.nested).toEqual([new Uint8Array([7, 8, 9])]);
    expect(response.plain).toEqual(plain);
    const top = { ...frame, event: "bytes", payload: buffer };
    expect(msgpackSerializer.decode(msgpackSerializer.encode(top, "toServer").data as Uint8Array, "toServer").payload).toEqual(new Uint8Array([7, 8, 9]));
  });
  it("rejects text frames and garbage", () => {
    expect(() => msgpackSerializer.decode("[]", "toServer")).toThrow("binary");
    expect(() => msgpackSerializer.decode(new Uint8Array([0xc1]), "toServer")).toThrow(CodecError);
  });
});
