import { describe, expect, it } from "vitest";
import { severityOf } from "../../bench/lib/chaos/process-output.js";
import { listeningLine } from "../../server/ops/listening-line.js";

describe("a node's output line, as the chaos run counts it", () => {
  it("is an error at pino's levels 50 and 60 or when it is not JSON, a warning at 40, and nothing for the listening line", () => {
    expect(severityOf(JSON.stringify({ level: 50, msg: "x" }))).toBe("error");
    expect(severityOf(JSON.stringify({ level: 60, msg: "x" }))).toBe("error");
    expect(severityOf(JSON.stringify({ level: 40, msg: "x" }))).toBe("warn");
    expect(severityOf(JSON.stringify({ level: 30, msg: "x" }))).toBeUndefined();
    expect(severityOf("TypeError: x is not a function")).toBe("error");
    expect(severityOf("cinder: address already in use")).toBe("error");
    const listening = listeningLine({ host: "127.0.0.1", port: 4000, socketPath: "/socket", demo: true, dashboard: true });
    expect(severityOf(listening)).toBeUndefined();
  });
});
