/** The JSON body of a LongPoll answer, or null when there was none (a network error, a bad body). */
export type AjaxResponse = { status: number; token?: string | null; messages?: string[] } | null;

/** What an in-flight request offers: a way to give up on it. */
export interface AjaxRequest {
  abort(): void;
}

interface HttpGlobals {
  XMLHttpRequest?: typeof XMLHttpRequest;
  fetch?: typeof fetch;
  AbortController?: typeof AbortController;
}

/**
 * One HTTP request with a JSON answer, for the LongPoll transport: XMLHttpRequest where there
 * is one, else fetch. Exactly one of `callback` (the parsed body, or null after a network error)
 * and `ontimeout` (no answer within `timeout` ms) runs, and neither once `abort()` was called, so
 * a transport that gives up on a request never hears from it again. The globals are read at each
 * call (polyfills and test doubles installed later are seen). An object, so `request` can be
 * replaced.
 */
export const Ajax = {
  request(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string | null,
    timeout: number,
    ontimeout: (() => void) | null,
    callback: (response: AjaxResponse) => void,
  ): AjaxRequest {
    const http = globalThis as HttpGlobals;
    let finished = false;
    const finish = (timedOut: boolean, text?: string | null): void => {
      if (finished) return;
      finished = true;
      if (!timedOut) callback(parseJSON(text));
      else if (ontimeout) ontimeout();
    };
    let abort: () => void;
    if (http.XMLHttpRequest) {
      const req = new http.XMLHttpRequest();
      req.open(method, url, true);
      req.timeout = timeout;
      for (const name in headers) req.setRequestHeader(name, headers[name]);
      // Status 0 is no answer at all: the error or timeout event that follows says which.
      req.onreadystatechange = () => req.readyState === 4 && req.status && finish(false, req.responseText);
      req.onerror = () => finish(false);
      req.ontimeout = () => finish(true);
      req.send(body);
      abort = () => req.abort();
    } else {
      // No XMLHttpRequest (Node, workers): fetch, which every such runtime has.
      const controller = new http.AbortController!();
      let expired = false;
      const timer = timeout
        ? setTimeout(() => {
            expired = true;
            controller.abort();
          }, timeout)
        : undefined;
      http
        .fetch!(url, { method, headers, body, signal: controller.signal })
        .then((response) => response.text())
        .then((text) => finish(false, text), () => finish(expired))
        .finally(() => clearTimeout(timer));
      abort = () => controller.abort();
    }
    return {
      abort() {
        finished = true;
        abort();
      },
    };
  },
};

function parseJSON(text: string | null | undefined): AjaxResponse {
  try {
    return text ? (JSON.parse(text) as AjaxResponse) : null;
  } catch {
    return null;
  }
}
