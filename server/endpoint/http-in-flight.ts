import { setImmediate as nextTurn } from "node:timers/promises";
import type { HttpRequest, HttpResponse, RecognizedString, TemplatedApp } from "../uws-types.js";

/** The app's methods that mount an HTTP route (a handler of `(res, req)`). */
const ROUTE_METHODS = new Set<string | symbol>(["get", "post", "options", "del", "patch", "put", "head", "connect", "trace", "any"]);

type RouteHandler = (res: HttpResponse, req: HttpRequest) => void | Promise<void>;

/**
 * The HTTP requests of a thread that have no answer yet. uWS keeps idle keep-alive connections
 * open until its own idle timeout (10 s) and tells JS nothing about them, so a drain can only
 * close them all at once (`app.close()`); this count lets it do so once every request already
 * in flight has its answer.
 */
export class HttpRequestsInFlight {
  private open = 0;
  private closing = false;
  private settled: (() => void) | undefined;

  get count(): number {
    return this.open;
  }

  /** `app` whose HTTP routes count each request from its arrival until it is answered or aborted. */
  counting(app: TemplatedApp): TemplatedApp {
    const proxy: TemplatedApp = new Proxy(app, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key);
        if (typeof value !== "function") return value;
        if (!ROUTE_METHODS.has(key)) return value.bind(target);
        return (pattern: RecognizedString, handler: RouteHandler) => {
          value.call(target, pattern, (res: HttpResponse, req: HttpRequest) => handler(this.track(res), req));
          return proxy;
        };
      },
    });
    return proxy;
  }

  /**
   * From now on every answer closes its connection (`Connection: close`); resolves once no
   * request is waiting for an answer, or after `graceMs` (a client sending its body slowly
   * cannot hold a drain up). The caller then closes whatever connections are left: idle ones.
   */
  async finish(graceMs: number): Promise<void> {
    this.closing = true;
    const deadline = Date.now() + graceMs;
    for (;;) {
      if (this.open > 0) {
        const left = deadline - Date.now();
        if (left <= 0) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          this.settled = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.settled = undefined;
      }
      // Out of uWS's call stack (an answer may be what settled the last request), and with a
      // request that came meanwhile on an open connection counted too.
      await nextTurn();
      if (this.open === 0 || Date.now() >= deadline) return;
    }
  }

  private track(res: HttpResponse): HttpResponse {
    this.open++;
    let done = false;
    const settle = () => {
      if (done) return;
      done = true;
      this.open--;
      if (this.open === 0) this.settled?.();
    };
    const { end, endWithoutBody, tryEnd, close, onAborted } = res;
    res.end = (body?: RecognizedString, closeConnection?: boolean) => {
      settle();
      return end.call(res, body, closeConnection || this.closing);
    };
    res.endWithoutBody = (reportedContentLength?: number, closeConnection?: boolean) => {
      settle();
      return endWithoutBody.call(res, reportedContentLength, closeConnection || this.closing);
    };
    res.tryEnd = (chunk: RecognizedString, totalSize: number) => {
      const outcome = tryEnd.call(res, chunk, totalSize);
      if (outcome[1]) settle();
      return outcome;
    };
    res.close = () => {
      settle();
      return close.call(res);
    };
    res.onAborted = (handler: () => void) =>
      onAborted.call(res, () => {
        settle();
        handler();
      });
    return res;
  }
}
