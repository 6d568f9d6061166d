/**
 * Polls `check` (sync or async) until it gives a truthy value, and resolves with it. Fails after
 * `timeoutMs` with `what` (a function is asked at that moment, so the message can carry the last
 * state seen); a check that throws fails at once with its error (e.g. a process that exited).
 * The one way a test waits: for something it can observe, never for a length of time.
 */
export async function waitFor<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string | (() => string),
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A length of time that is itself what a case is about (an outage, a slow handler), never a synchronisation. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
