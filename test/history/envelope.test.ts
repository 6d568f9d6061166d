import { Encoder } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import { decodeTopicEnvelope } from "../../server/fabric/redis-envelope.js";
import { encodeMarker, encodeNumbered, MARKER, NUMBERED } from "../../server/history/history-envelope.js";

// History's envelopes as they have always crossed Redis (nodes of different versions share the
// topics' channels during a rolling upgrade): msgpack arrays, told apart by their length.
const wire = new Encoder({ ignoreUndefined: true });
const frame = '[null,null,"room:1","msg",{"_o":5,"_e":"ep"}]';

/** The items a node's fabric hands history, from the bytes it received. */
function itemsOf(bytes: Uint8Array): readonly unknown[] {
  const envelope = decodeTopicEnvelope(bytes);
  if (envelope.kind !== "lane") throw new Error(`a ${envelope.kind}, not a lane's envelope`);
  return envelope.items;
}

describe("history's envelopes", () => {
  it("are the bytes they were: [2, sender, topic, event, frame, offset, epoch, except] and [2, sender, token]", () => {
    const numbered = { topic: "room:1", event: "msg", frame, offset: 5, epoch: "ep" };
    expect(encodeNumbered("a#1", { ...numbered, except: "s1" })).toEqual(wire.encode([2, "a#1", "room:1", "msg", frame, 5, "ep", "s1"]));
    expect(encodeNumbered("a#1", numbered)).toEqual(wire.encode([2, "a#1", "room:1", "msg", frame, 5, "ep", ""]));
    expect(encodeMarker("a#1", "7")).toEqual(wire.encode([2, "a#1", "7"]));
  });

  it("decode from what the fabric hands over, and refuse what does not fit", () => {
    const bytes = wire.encode([2, "a#1", "room:1", "msg", frame, 5, "ep", "s1"]);
    expect(NUMBERED.items).toBe(itemsOf(bytes).length);
    expect(NUMBERED.decode("room:1", itemsOf(bytes))).toEqual({ topic: "room:1", event: "msg", frame, offset: 5, epoch: "ep", except: "s1" });
    expect(NUMBERED.decode("room:1", itemsOf(wire.encode([2, "a#1", "room:1", "msg", frame, 5, "ep", ""])))).not.toHaveProperty("except");
    // On another topic's channel, or with an offset that is no offset.
    expect(() => NUMBERED.decode("room:2", itemsOf(bytes))).toThrow(/another topic/);
    expect(() => NUMBERED.decode("room:1", itemsOf(wire.encode([2, "a#1", "room:1", "msg", frame, 0, "ep", ""])))).toThrow(/offset/);
    const marker = itemsOf(encodeMarker("a#1", "7"));
    expect(MARKER.items).toBe(marker.length);
    expect(MARKER.decode("room:1", marker)).toBe("7");
    expect(() => MARKER.decode("room:1", [7])).toThrow(/token/);
  });
});
