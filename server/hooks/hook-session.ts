/**
 * What the connect hook's answer leaves on a socket for its later hooks: the user id it named and
 * the topics it allowed in advance. It rides in the socket's assigns under a symbol, so it is
 * copied into every channel's assigns with them, yet is never a key the backend or a TypeScript
 * channel sees (JSON leaves symbol keys out).
 */
export const HOOK_SESSION = Symbol("cinder.hookSession");

export interface HookSession {
  readonly userId: string | undefined;
  /** Topics the socket may join without the join hook. */
  readonly topics: ReadonlySet<string>;
}

export function hookSessionOf(assigns: Readonly<Record<string, unknown>>): HookSession | undefined {
  return (assigns as Record<symbol, HookSession | undefined>)[HOOK_SESSION];
}
