import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

function runModule(script: string): unknown {
  return JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" }));
}

describe("the package's subpath exports", () => {
  it("load cinder/server, cinder/client, its msgpack and codec entries, and cinder/crdt from the build", () => {
    const script = `
      const server = await import("cinder/server");
      const client = await import("cinder/client");
      const msgpack = await import("cinder/client/msgpack");
      const codec = await import("cinder/client/codec");
      const crdt = await import("cinder/crdt");
      console.log(JSON.stringify([typeof server.createServer, typeof server.startNode, typeof client.Socket,
        typeof client.Presence, msgpack.msgpackSerializer.name, typeof codec.jsonSerializer, typeof crdt.PresenceSet]));`;
    expect(runModule(script)).toEqual(["function", "function", "function", "function", "msgpack", "object", "function"]);
  });
});
