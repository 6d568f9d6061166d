import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a backend hook endpoint received. */
export interface HookRequest {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
}

/** What a route answers: a JSON body (200), a status with a body, or "hang" (no answer until the test lets it go or the backend closes). */
export type HookAnswer = Record<string, unknown> | { status: number; json: unknown } | "hang";

export type HookRoute = (request: HookRequest) => HookAnswer;

/**
 * A real HTTP backend for backend hooks (node:http on a loopback port): each path answers with
 * its route, changeable at any time; every request is kept, in order, for the test to look at.
 */
export class HookBackend {
  readonly requests: HookRequest[] = [];
  private readonly routes = new Map<string, HookRoute>();
  private readonly hanging = new Set<ServerResponse>();

  private constructor(private readonly server: Server) {}

  static async start(port = 0): Promise<HookBackend> {
    let backend: HookBackend | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => (backend as HookBackend).answer(req.url ?? "/", req.headers, Buffer.concat(chunks).toString("utf8"), res));
    });
    backend = new HookBackend(server);
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return backend;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  route(path: string, route: HookRoute): this {
    this.routes.set(path, route);
    return this;
  }

  /** The requests made to `path`. */
  to(path: string): HookRequest[] {
    return this.requests.filter((request) => request.path === path);
  }

  /** Answers every hanging request: 200 with `json`. */
  release(json: unknown = {}): void {
    for (const res of this.hanging) res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(json));
    this.hanging.clear();
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(path: string, headers: IncomingHttpHeaders, raw: string, res: ServerResponse): void {
    const request: HookRequest = { path, headers, raw, body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {} };
    this.requests.push(request);
    const route = this.routes.get(path);
    if (!route) return void res.writeHead(404).end();
    const answer = route(request);
    if (answer === "hang") return void this.hanging.add(res);
    const [status, json] = "status" in answer && "json" in answer && typeof answer.status === "number" ? [answer.status, answer.json] : [200, answer];
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
  }
}
