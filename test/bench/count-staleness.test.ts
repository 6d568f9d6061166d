import { describe, expect, it } from "vitest";
import { countStaleness, type Ack } from "../../bench/lib/count-staleness.js";

const join = (t: number): Ack => ({ t, delta: 1 });
const leave = (t: number): Ack => ({ t, delta: -1 });

describe("the presence-scale benchmark's count staleness", () => {
  // Truth: 0 until 100, 1 from 100, 2 from 200, 3 from 300, 2 from 2000.
  const acks = [join(100), join(200), join(300), leave(2000)];

  it("ages a count by how long ago the truth last held it", () => {
    const s = countStaleness(acks, [{ client: "a", t: 250, keys: 2 }, { client: "a", t: 1500, keys: 1 }], 0, 1600);
    expect(s).toMatchObject({ counts: 2, unmatched: 0, maxMs: 1300, clientsOverLimit: 1, clients: 1 });
  });

  it("takes the truth's latest stretch at a value: a value it comes back to is fresh again", () => {
    const s = countStaleness(acks, [{ client: "a", t: 2500, keys: 2 }], 0, 3000);
    expect(s).toMatchObject({ maxMs: 0, clientsOverLimit: 0 });
  });

  it("counts a count slightly ahead of the replies as fresh, and one the truth never held as unmatched", () => {
    const s = countStaleness(acks, [{ client: "a", t: 90, keys: 1 }, { client: "b", t: 500, keys: 7 }], 0, 600);
    expect(s).toMatchObject({ counts: 2, unmatched: 1, maxMs: 0 });
  });

  it("ages the count shown until the next one replaces it", () => {
    // "1" arrives at 150 (fresh), is still shown at 1500: the truth left 1 at 200.
    const s = countStaleness(acks, [{ client: "a", t: 150, keys: 1 }, { client: "a", t: 1500, keys: 3 }], 0, 1600);
    expect(s).toMatchObject({ maxMs: 0, shownMaxMs: 1300, clientsShownOverLimit: 1, clientsOverLimit: 0 });
  });
});
