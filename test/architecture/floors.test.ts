/**
 * The floors of the source (docs/architecture.md#floors): every import runs from a floor to the
 * same floor or one below it, no files import each other in a circle, and neither do the folders
 * (and top-level files) of one floor. The order is read from the ```floors block of that page, so
 * the page and the code cannot disagree.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { graphCircles, importCircles, importGraph } from "../support/import-circles.js";

const DOC = "docs/architecture.md";

/** A floor: its name, and its members (a folder of server/ as `name/`, or a file at its top). */
interface Floor {
  name: string;
  members: string[];
}

/** The floors of the ```floors block, highest first: one a line, `name: member member …`. */
function readFloors(): Floor[] {
  const block = /```floors\n([\s\S]*?)```/.exec(readFileSync(DOC, "utf8"));
  if (!block) throw new Error(`${DOC} has no \`\`\`floors block`);
  return block[1]
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [name, members] = line.split(":");
      return { name: name.trim(), members: members.trim().split(/\s+/) };
    });
}

/** What a file of server/ belongs to: its folder (`channel/`), or itself when at the top (`server.ts`). */
const memberOf = (file: string): string => (file.includes("/") ? `${file.slice(0, file.indexOf("/"))}/` : file);

describe("floors", () => {
  const floors = readFloors();
  const floorOf = new Map<string, number>();
  for (const [index, floor] of floors.entries()) for (const member of floor.members) floorOf.set(member, index);
  const graph = importGraph("server");

  it("lists every folder and top-level file of server/ once", () => {
    const listed = floors.flatMap((floor) => floor.members);
    expect(listed.length, "a member listed twice").toBe(new Set(listed).size);
    const members = new Set([...graph.keys()].map(memberOf));
    expect([...members].filter((member) => !floorOf.has(member)).sort(), `members of server/ with no floor in ${DOC}`).toEqual([]);
    expect(listed.filter((member) => !members.has(member)).sort(), `members in ${DOC} that server/ does not have`).toEqual([]);
  });

  it("has no import from a floor to a higher one", () => {
    const upward: string[] = [];
    for (const [from, targets] of graph) {
      for (const to of targets) {
        const [fromFloor, toFloor] = [floorOf.get(memberOf(from)), floorOf.get(memberOf(to))];
        if (fromFloor === undefined || toFloor === undefined) continue; // the test above names them
        if (toFloor < fromFloor) upward.push(`${from} (${floors[fromFloor].name}) → ${to} (${floors[toFloor].name})`);
      }
    }
    expect(upward.sort()).toEqual([]);
  });

  it("has no import circle in server/, crdt/ or client/ (type imports included)", () => {
    for (const dir of ["server", "crdt", "client"]) expect(importCircles(dir), dir).toEqual([]);
  });

  it("has no circle between members of one floor: its folders and files depend one way", () => {
    const members = new Map<string, Set<string>>();
    for (const [from, targets] of graph) {
      const uses = members.get(memberOf(from)) ?? new Set<string>();
      for (const to of targets) if (memberOf(to) !== memberOf(from)) uses.add(memberOf(to));
      members.set(memberOf(from), uses);
    }
    expect(graphCircles(members)).toEqual([]);
  });

  it("keeps crdt/ and client/ below the server: neither imports from server/", () => {
    const graph = importGraph(".");
    const upward = [...graph].flatMap(([from, targets]) =>
      /^(crdt|client)\//.test(from) ? [...targets].filter((to) => to.startsWith("server/")).map((to) => `${from} → ${to}`) : [],
    );
    expect(upward).toEqual([]);
  });
});
