import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("the package's subpath exports", () => {
  it("load cinder/server, cinder/client and cinder/crdt from the build", () => {
    const script = `
      const server = await import("cinder/server");
      const client = await import("cinder/client");
      const crdt = await import("cinder/crdt");
      console.log(JSON.stringify([typeof server.createServer, typeof server.startNode, typeof client.jsonSerializer, typeof crdt.PresenceSet]));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" });
    expect(JSON.parse(out)).toEqual(["function", "function", "object", "function"]);
  });
});
