import { describe, expect, it } from "vitest";
import { ChannelTable } from "../../server/socket/channel-table.js";

const channel = (topic: string) => ({ topic });

/** The table as a socket uses it (its methods are the socket's own, protected). */
class Table extends ChannelTable<{ topic: string }> {
  get size(): number {
    return this.channelCount;
  }
  get(topic: string) {
    return this.channelOf(topic);
  }
  set(c: { topic: string }): void {
    this.holdChannel(c);
  }
  delete(c: { topic: string }): boolean {
    return this.dropChannel(c);
  }
  list() {
    return this.heldChannels();
  }
}

describe("a socket's channel table", () => {
  it("finds each channel by its topic, whatever the order they joined in", () => {
    const table = new Table();
    const topics = Array.from({ length: 100 }, (_, i) => `room:${(i * 37) % 100}`);
    const channels = topics.map(channel);
    for (const c of channels) table.set(c);
    expect(table.size).toBe(100);
    for (const c of channels) expect(table.get(c.topic)).toBe(c);
    expect(table.get("room:100")).toBeUndefined();
    expect(table.get("")).toBeUndefined();
  });

  it("replaces the channel of a topic joined again, and forgets only the current one", () => {
    const table = new Table();
    const first = channel("room:1");
    const second = channel("room:1");
    table.set(first);
    table.set(second);
    expect(table.size).toBe(1);
    expect(table.delete(first)).toBe(false);
    expect(table.get("room:1")).toBe(second);
    expect(table.delete(second)).toBe(true);
    expect(table.get("room:1")).toBeUndefined();
    expect(table.size).toBe(0);
  });

  it("lists a copy, so channels can be ended while going through it", () => {
    const table = new Table();
    for (const topic of ["b", "a", "c"]) table.set(channel(topic));
    const listed = table.list();
    for (const c of listed) table.delete(c);
    expect(listed.map((c) => c.topic).sort()).toEqual(["a", "b", "c"]);
    expect(table.size).toBe(0);
  });

  it("keeps finding every channel as it goes from none to one to many and back, in any order", () => {
    const table = new Table();
    const channels = ["m", "c", "x", "a"].map(channel);
    const held: Array<{ topic: string }> = [];
    const expectHeld = () => {
      expect(table.size).toBe(held.length);
      for (const c of channels) expect(table.get(c.topic)).toBe(held.includes(c) ? c : undefined);
      expect(table.list().map((c) => c.topic)).toEqual(held.map((c) => c.topic).sort());
    };
    for (const c of channels) {
      table.set(c);
      held.push(c);
      expectHeld();
    }
    for (const c of [channels[2], channels[0], channels[3], channels[1]]) {
      expect(table.delete(c)).toBe(true);
      held.splice(held.indexOf(c), 1);
      expectHeld();
      expect(table.delete(c)).toBe(false);
    }
  });
});
