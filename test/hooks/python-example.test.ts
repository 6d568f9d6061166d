/**
 * docs/examples/hooks_backend.py, the backend hooks' example in Python (standard library only),
 * run for real against CLI nodes configured by docs/examples/cinder.json: a one-thread node and a
 * two-worker node, each thread calling the backend on its own.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { freePort } from "../support/node-process.js";
import { perTest } from "../support/opened.js";
import { collect, joined, pushed } from "../support/phoenix-channel.js";
import { RawClient } from "../support/raw-client.js";
import { socketUrl } from "../support/server.js";
import { waitFor } from "../support/wait.js";
import { metricOf } from "../support/metrics.js";
import type { Channel } from "phoenix";

const opened = perTest();
const EXAMPLES = fileURLToPath(new URL("../../docs/examples/", import.meta.url));

/** The example backend on a free port; stopped after the test. */
async function pythonBackend(): Promise<number> {
  const port = await freePort();
  const child: ChildProcess = spawn("python3", [join(EXAMPLES, "hooks_backend.py")], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  opened.keep(child, (c) => c.kill("SIGKILL"));
  await waitFor(() => output.includes("listening") || child.exitCode !== null, "the Python backend to listen", 15_000);
  if (child.exitCode !== null) throw new Error(`python backend exited: ${output}`);
  return port;
}

/** docs/examples/cinder.json with the backend's port in its URLs. */
function exampleConfig(backendPort: number): string {
  const text = readFileSync(join(EXAMPLES, "cinder.json"), "utf8").replaceAll("127.0.0.1:5000", `127.0.0.1:${backendPort}`);
  const path = join(mkdtempSync(join(tmpdir(), "cinder-example-")), "cinder.json");
  writeFileSync(path, text);
  return path;
}

/** A join's refusal; the channel is then left, so that phoenix.js does not retry it. */
const refusal = (channel: Channel) =>
  new Promise((resolve) =>
    channel
      .join()
      .receive("error", (reason: unknown) => {
        channel.leave();
        resolve(reason);
      })
      .receive("ok", () => resolve("joined")),
  );

describe("the Python example backend", () => {
  for (const workers of [1, 2]) {
    it(`answers every hook of a CLI node (${workers} thread${workers > 1 ? "s" : ""})`, async () => {
      const config = exampleConfig(await pythonBackend());
      const node = await opened.node({ workers, env: { CONFIG: config } });
      expect(await RawClient.upgradeStatus(socketUrl(node, "vsn=2.0.0&token=nobody"))).toBe(403);
      const ann = opened.phoenix(node.port, { token: "user:ann" });
      const bob = opened.phoenix(node.port, { token: "user:bob" });
      const lobby = ann.channel("room:lobby");
      expect(await joined(lobby)).toEqual({ room: "room:lobby", you: "ann" });
      const bobs = bob.channel("room:lobby");
      await joined(bobs);
      expect(await joined(ann.channel("user:ann"))).toEqual({});
      expect(await refusal(ann.channel("user:bob"))).toEqual({ reason: "not yours" });
      expect(await refusal(ann.channel("room:staff"))).toEqual({ reason: "members only" });
      const heard = collect(bobs, "new_msg");
      expect(await pushed(lobby, "new_msg", { body: "  hello  " })).toEqual({ status: "ok", response: {} });
      expect(await pushed(lobby, "new_msg", { body: "   " })).toEqual({ status: "error", response: { reason: "empty message" } });
      await waitFor(() => heard.length === 1, "bob to hear ann");
      expect(heard).toEqual([{ body: "hello", from: "ann" }]);
      const pong = await pushed(lobby, "ping", { n: 1 });
      expect(pong).toMatchObject({ status: "ok", response: { pong: { n: 1 } } });
      expect(await metricOf(node, "cinder_hook_requests_total", { hook: "publish", outcome: "deny" })).toBe(1);
    });
  }
});
