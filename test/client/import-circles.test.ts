import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importCircles } from "../support/import-circles.js";

const clientDir = fileURLToPath(new URL("../../client", import.meta.url));

describe("the browser client's modules", () => {
  it("import each other one way only: no import circle, type imports included", () => {
    expect(importCircles(clientDir)).toEqual([]);
  });
});
