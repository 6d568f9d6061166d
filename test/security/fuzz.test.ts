import { beforeAll, describe, expect, it } from "vitest";
import { decode, encode } from "@msgpack/msgpack";
import fc from "fast-check";
import WebSocket from "ws";
import { EXPECTED_CLOSE_CODES, fuzzFrame, type FuzzFrame } from "../../bench/lib/fuzz-frames.js";
import type { CinderServer } from "../../server/index.js";
import { RawClient } from "../support/raw-client.js";
import { perFile } from "../support/opened.js";
import { socketUrl } from "../support/server.js";

// Property: whatever a client sends, its socket either keeps serving (a heartbeat after the
// frame is answered) or is closed with a documented code, and the server serves everyone else.
const opened = perFile();
let server: CinderServer;
beforeAll(async () => {
  server = await opened.server();
});

const HEARTBEAT = "hb-fuzz";
const heartbeat = (serializer: FuzzFrame["serializer"]) =>
  serializer === "json" ? JSON.stringify([null, HEARTBEAT, "phoenix", "heartbeat", {}]) : encode([null, HEARTBEAT, "phoenix", "heartbeat", {}]);

function isHeartbeatReply(data: Buffer, isBinary: boolean): boolean {
  try {
    const frame = (isBinary ? decode(data) : JSON.parse(data.toString())) as unknown[];
    return Array.isArray(frame) && frame[1] === HEARTBEAT && frame[3] === "phx_reply";
  } catch {
    return false; // a V2 binary push or anything else the frame caused
  }
}

const validUtf8 = (bytes: Uint8Array) => {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
};

/** Sends one frame and a heartbeat; resolves with the close code, or "served". */
function outcome(frame: FuzzFrame): Promise<number | "served"> {
  const query = frame.serializer === "msgpack" ? "vsn=2.0.0&serializer=msgpack" : "vsn=2.0.0";
  const ws = new WebSocket(socketUrl(server, query));
  return new Promise((resolve, reject) => {
    ws.once("error", reject);
    ws.on("message", (data: Buffer, isBinary) => {
      if (!isHeartbeatReply(data, isBinary)) return;
      ws.close();
      resolve("served");
    });
    ws.once("close", (code) => resolve(code));
    ws.once("open", () => {
      ws.send(frame.data, { binary: frame.binary });
      ws.send(heartbeat(frame.serializer), { binary: frame.serializer === "msgpack" });
    });
  });
}

describe("fuzzing a live server", () => {
  it("ends every socket with a documented close code or keeps serving it, and serves the others", async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fuzzFrame, async (frame) => {
        const result = await outcome(frame);
        seen.set(String(result), (seen.get(String(result)) ?? 0) + 1);
        if (result === "served") return;
        expect(EXPECTED_CLOSE_CODES.has(result), `close code ${result}`).toBe(true);
        // The transport cuts a text frame of invalid UTF-8 (1006); nothing else may end that way.
        if (result === 1006) expect(!frame.binary && typeof frame.data !== "string" && !validUtf8(frame.data)).toBe(true);
      }),
      { numRuns: 400 },
    );
    // Both outcomes happened: the generator reaches the server's refusals and its normal path.
    expect(seen.get("served")).toBeGreaterThan(0);
    expect(seen.get("1007")).toBeGreaterThan(0);
    const good = await RawClient.open(socketUrl(server));
    await good.join("room:after-fuzz", { user: "ada" });
    good.send([null, "m", "room:after-fuzz", "new_msg", { body: "still here" }]);
    await good.next((f) => f[3] === "new_msg", "the broadcast after the fuzzing");
    good.close();
  }, 60_000);
});
