/**
 * The V8 heap of a node, read after a full garbage collection through its inspector (the node
 * runs with `--inspect=127.0.0.1:<port>`). /metrics has the heap too, but with whatever garbage
 * is lying around: at a few hundred bytes per message that would be most of the figure.
 */
import WebSocket from "ws";

export interface HeapFigures {
  /** V8 heap in use, bytes */
  heapUsed: number;
  /** memory of C++ objects bound to JS ones (buffers), bytes */
  external: number;
}

interface DevtoolsTarget {
  webSocketDebuggerUrl: string;
}

export function inspectFlag(port: number): string {
  return `--inspect=127.0.0.1:${port}`;
}

export async function heapAfterGc(inspectorPort: number): Promise<HeapFigures> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as DevtoolsTarget[];
  if (targets.length === 0) throw new Error(`no inspector target on port ${inspectorPort}`);
  const session = await DevtoolsSession.open(targets[0].webSocketDebuggerUrl);
  try {
    await session.call("HeapProfiler.collectGarbage");
    const reply = (await session.call("Runtime.evaluate", {
      expression: "JSON.stringify(process.memoryUsage())",
      returnByValue: true,
    })) as { result?: { value?: string } };
    const usage = JSON.parse(reply.result?.value ?? "{}") as Partial<HeapFigures>;
    return { heapUsed: usage.heapUsed ?? 0, external: usage.external ?? 0 };
  } finally {
    session.close();
  }
}

/** Request/response over the Chrome DevTools protocol, one call at a time. */
class DevtoolsSession {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: { result?: unknown; error?: { message: string } }) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      const reply = JSON.parse(data.toString("utf8")) as { id?: number; result?: unknown; error?: { message: string } };
      if (reply.id === undefined) return; // an event, not a reply
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
  }

  static open(url: string): Promise<DevtoolsSession> {
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new DevtoolsSession(ws)));
      ws.once("error", reject);
    });
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => (reply.error ? reject(new Error(`${method}: ${reply.error.message}`)) : resolve(reply.result)));
    });
  }

  close(): void {
    this.ws.close();
  }
}
