import { createServer as createNetServer } from "node:net";
import { describe, expect, it } from "vitest";
import { createServer, ListenError } from "../../server/index.js";
import { NodeProcess, freePort } from "../support/node-process.js";
import { perTest } from "../support/opened.js";

const opened = perTest();

/** Another program listening on `port` (a plain Node server: no SO_REUSEPORT). */
async function otherProgram(port: number): Promise<void> {
  const program = opened.keep(createNetServer(), (p) => new Promise((resolve) => p.close(resolve)));
  await new Promise<void>((resolve) => program.listen(port, "127.0.0.1", resolve));
}

/** A refused start: exit 1 and one line, no stack trace, no drain. */
function expectRefused({ code, output }: { code: number | null; output: string }, port: number): void {
  expect(code).toBe(1);
  expect(output.trim().split("\n")).toEqual([
    `cinder: cannot listen on 127.0.0.1:${port}: address already in use (another program or Cinder node listens there; ` +
      "Cinder nodes share a port only when each sets reusePort, REUSE_PORT=true)",
  ]);
}

/** The node names answering /health over `attempts` fresh connections. */
async function namesAnswering(port: number, attempts: number): Promise<Set<string>> {
  const names = new Set<string>();
  for (let i = 0; i < attempts && names.size < 2; i++) {
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`, { headers: { connection: "close" } })).json()) as { node: string };
    names.add(health.node);
  }
  return names;
}

describe("a port already in use", () => {
  it.each(["1", "2"])("a second node (WORKERS=%s) on a port a node serves refuses to start, in one line", async (workers) => {
    const port = await freePort();
    await opened.node({ port, name: "first" });
    expectRefused(await NodeProcess.run({ PORT: String(port), HOST: "127.0.0.1", WORKERS: workers, NODE_NAME: "second" }), port);
    expect(await namesAnswering(port, 8)).toEqual(new Set(["first"]));
  });

  it("a node with several workers holds its port against a second one", async () => {
    const port = await freePort();
    await opened.node({ port, workers: 2 });
    expectRefused(await NodeProcess.run({ PORT: String(port), HOST: "127.0.0.1", WORKERS: "1" }), port);
  });

  it.each(["1", "2"])("a node (WORKERS=%s) on a port another program listens on refuses to start, in one line", async (workers) => {
    const port = await freePort();
    await otherProgram(port);
    expectRefused(await NodeProcess.run({ PORT: String(port), HOST: "127.0.0.1", WORKERS: workers }), port);
  });

  it("listen() rejects with a ListenError saying why", async () => {
    const port = await freePort();
    await otherProgram(port);
    // createServer by hand: this test is about listen() itself.
    const server = opened.keep(createServer({ port, host: "127.0.0.1", logLevel: "silent" }), (s) => s.close());
    const refusal = await server.listen().catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(ListenError);
    expect(refusal).toMatchObject({ code: "EADDRINUSE", message: expect.stringContaining(`cannot listen on 127.0.0.1:${port}: address already in use`) });
  });
});

describe("sharing a port on purpose (reusePort)", () => {
  it("two nodes that both set REUSE_PORT serve one port together", async () => {
    const port = await freePort();
    await opened.node({ port, name: "first", env: { REUSE_PORT: "true" } });
    await opened.node({ port, name: "second", workers: 2, env: { REUSE_PORT: "true" } });
    // The kernel spreads new connections over both: 64 in a row to one of them would be a 2^-63 chance.
    expect(await namesAnswering(port, 64)).toEqual(new Set(["first", "second"]));
  });

  it("a node that sets it still cannot join one that did not", async () => {
    const port = await freePort();
    await opened.node({ port });
    expectRefused(await NodeProcess.run({ PORT: String(port), HOST: "127.0.0.1", WORKERS: "1", REUSE_PORT: "true" }), port);
  });

  it("createServer({reusePort: true}) listens beside another server that set it", async () => {
    // An explicit port: the kernel lets no one join a port it picked for `port: 0`.
    const port = await freePort();
    for (let i = 0; i < 2; i++) {
      const server = opened.keep(createServer({ port, host: "127.0.0.1", logLevel: "silent", reusePort: true }), (s) => s.close());
      await server.listen();
      expect(server.port).toBe(port);
    }
  });
});
