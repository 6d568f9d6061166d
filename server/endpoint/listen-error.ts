import { createServer } from "node:net";
import { getSystemErrorMap } from "node:util";

/** A node could not listen on its host and port: one line that says why (the CLI prints it and exits 1). */
export class ListenError extends Error {
  override readonly name = "ListenError";
  constructor(
    message: string,
    /** The system error code the kernel gave, e.g. "EADDRINUSE"; undefined when it could not be learnt. */
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * Whether host:port can be listened on by a process of its own: binds it without SO_REUSEPORT and
 * lets it go. Returns the kernel's refusal, or undefined. A port any other process listens on is
 * refused (EADDRINUSE), whether or not that process shares it.
 */
export function portRefusal(host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => resolve(err));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

/** The error for a listen on host:port that failed, saying why as far as the kernel tells. */
export async function listenError(host: string, port: number, refusal?: NodeJS.ErrnoException): Promise<ListenError> {
  const err = refusal ?? (await portRefusal(host, port));
  const where = `cannot listen on ${host}:${port}`;
  if (!err?.code) return new ListenError(where, undefined);
  if (err.code === "EADDRINUSE") {
    return new ListenError(
      `${where}: address already in use (another program or Cinder node listens there; Cinder nodes share a port only when each sets reusePort, REUSE_PORT=true)`,
      err.code,
    );
  }
  const description = typeof err.errno === "number" ? getSystemErrorMap().get(err.errno)?.[1] : undefined;
  return new ListenError(`${where}: ${description ?? err.message} (${err.code})`, err.code);
}
