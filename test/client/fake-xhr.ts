/**
 * An XMLHttpRequest stand-in for LongPoll tests under fake timers, in the style of phoenix.js's
 * own tests: every request is recorded, and the test answers it with the JSON body the server
 * would send (`{status, token, messages}`), lets it time out, or fails it as the network would.
 */
export class FakeXHR {
  static requests: FakeXHR[] = [];

  static reset(): void {
    FakeXHR.requests = [];
  }

  /** Requests still waiting for an answer. */
  static pending(): FakeXHR[] {
    return FakeXHR.requests.filter((r) => !r.answered && !r.aborted);
  }

  /** The one pending request of `method`; fails the test if there is not exactly one. */
  static only(method: "GET" | "POST"): FakeXHR {
    const found = FakeXHR.pending().filter((r) => r.method === method);
    if (found.length !== 1) throw new Error(`expected one pending ${method}, found ${found.length}`);
    return found[0];
  }

  method = "";
  url = "";
  headers: Record<string, string> = {};
  body: string | null = null;
  timeout = 0;
  readyState = 0;
  status = 0;
  responseText = "";
  answered = false;
  aborted = false;
  onreadystatechange: (() => void) | null = null;
  onerror: (() => void) | null = null;
  ontimeout: (() => void) | null = null;

  constructor() {
    FakeXHR.requests.push(this);
  }

  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
    this.readyState = 1;
  }

  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  send(body: string | null): void {
    this.body = body;
  }

  abort(): void {
    this.aborted = true;
  }

  // What the server or the network does:

  /** Answers with a LongPoll body; the HTTP status is 200, the protocol status is in the body. */
  respond(body: { status: number; token?: string | null; messages?: string[] }): void {
    this.answered = true;
    this.readyState = 4;
    this.status = 200;
    this.responseText = JSON.stringify(body);
    this.onreadystatechange?.();
  }

  expire(): void {
    this.answered = true;
    this.readyState = 4;
    this.onreadystatechange?.();
    this.ontimeout?.();
  }
}
