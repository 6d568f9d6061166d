import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { docsPages } from "../support/docs-pages.js";
import { signatureOf } from "../../server/webhooks/signature.js";

const run = promisify(execFile);
const SECRET = "docs-example-secret-0123456789";

/** The Python example of docs/webhooks.md, then a check of its `verify` and `handle` on the given cases. */
function pythonProgram(cases: Array<{ timestamp: string; signature: string; body: string }>): string {
  const page = docsPages().find((p) => p.path.endsWith("webhooks.md"))!;
  const example = page.blocks.find((block) => block.lang === "python")!.text;
  return `${example}
import sys
cases = json.loads(sys.argv[1])
results = [verify(b"${SECRET}", c["timestamp"], c["signature"], c["body"].encode()) for c in cases]
statuses = [handle(b"${SECRET}", {"x-cinder-timestamp": c["timestamp"], "x-cinder-signature": c["signature"]}, c["body"].encode()) for c in cases]
print(json.dumps({"verified": results, "statuses": statuses}))
`;
}

// The docs' Python verification, run by python3 against batches signed as a node signs them.
describe("the docs' verification example", () => {
  it("accepts what Cinder signs, and refuses a tampered body, another key, an old timestamp", async () => {
    const body = JSON.stringify({ events: [{ id: "e1", type: "channel_occupied", topic: "room:a", at: 1 }] });
    const now = Math.floor(Date.now() / 1000);
    const cases = [
      { timestamp: String(now), signature: signatureOf(SECRET, now, body), body },
      { timestamp: String(now), signature: signatureOf(SECRET, now, body), body: body.replace("room:a", "room:b") },
      { timestamp: String(now), signature: signatureOf("another-secret-0123456789", now, body), body },
      { timestamp: String(now - 600), signature: signatureOf(SECRET, now - 600, body), body },
    ];
    const { stdout } = await run("python3", ["-c", pythonProgram(cases), JSON.stringify(cases)]);
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual({ verified: [true, false, false, false], statuses: [204, 401, 401, 401] });
  });
});
