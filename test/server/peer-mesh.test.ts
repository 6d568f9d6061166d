import { MessageChannel, Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { PeerMesh } from "../../server/fabric/mesh.js";
import type { MeshMessage } from "../../server/fabric/mesh-messages.js";

const lastWords: MeshMessage = { k: "tell", lane: "counts", message: [{ key: "room:kill", by: 7 }] };

/** A mesh that records, in order, each message it reads and each peer it drops. */
function recordingMesh(): { mesh: PeerMesh; seen: string[] } {
  const mesh = new PeerMesh();
  const seen: string[] = [];
  mesh.onMessage((from, message) => seen.push(`${from}: ${message.k}`));
  mesh.onPeerDown((index) => seen.push(`${index}: down`));
  return { mesh, seen };
}

describe("a peer thread that ended", () => {
  it("has what it posted before it ended read before its port is dropped", async () => {
    const { mesh, seen } = recordingMesh();
    const { port1: ours, port2: theirs } = new MessageChannel();
    mesh.addPeer(3, ours);
    // The peer posts its last message and ends; we learn of it (a worker's exit) before its
    // message was read: removing the peer at once used to close our end over the unread message.
    theirs.postMessage(lastWords);
    theirs.close();
    await mesh.removePeer(3);
    expect(seen).toEqual(["3: tell", "3: down"]);
    expect(mesh.has(3)).toBe(false);
  });

  it("a real worker's last message, posted just before it exits, is read when its exit is handled", async () => {
    const { mesh, seen } = recordingMesh();
    for (let round = 0; round < 20; round++) {
      const { port1: ours, port2: theirs } = new MessageChannel();
      mesh.addPeer(round, ours);
      const worker = new Worker(
        `const { workerData } = require("node:worker_threads");
         workerData.port.postMessage(workerData.message);`,
        { eval: true, workerData: { port: theirs, message: lastWords }, transferList: [theirs] },
      );
      await new Promise((resolve) => worker.once("exit", resolve));
      await mesh.removePeer(round);
    }
    expect(seen).toEqual(Array.from({ length: 20 }, (_, round) => [`${round}: tell`, `${round}: down`]).flat());
  });
});
