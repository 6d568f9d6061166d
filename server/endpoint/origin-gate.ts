import type { ServerConfig } from "../config.js";
import type { Logger } from "../ops/logger.js";
import { envOf } from "../settings/table.js";
import { isOriginAllowed } from "./handshake.js";

/** A refused origin is logged once per window; a window logs at most this many distinct origins. */
export const ORIGIN_LOG_WINDOW_MS = 60_000;
export const ORIGIN_LOG_MAX_ORIGINS = 20;
/** Origins are client input: logged at most this long. */
const MAX_LOGGED_ORIGIN = 200;

const CHECK_ORIGIN = `checkOrigin (${envOf("checkOrigin")})`;

/**
 * The origin check of every way a socket opens (WebSocket upgrades, LongPoll requests), which
 * says in the log why a browser was refused and which setting would let it in: a refusal is
 * otherwise a bare 403 the browser's page cannot even read. Logging is bounded whatever clients
 * send: each origin once per minute, at most 20 origins a minute (the rest are counted, and the
 * count logged when the next minute's first refusal comes). Every refusal is counted in
 * `cinder_connects_rejected_total{reason="origin"}` by the endpoint.
 */
export class OriginGate {
  private windowStart = -Infinity;
  /** Origins logged in the current window: at most ORIGIN_LOG_MAX_ORIGINS. */
  private readonly logged = new Set<string>();
  private unlogged = 0;

  constructor(
    private readonly config: Pick<ServerConfig, "checkOrigin" | "publicUrl">,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a request with these headers may open a socket; a refusal is logged (bounded, see above). */
  admits(origin: string, host: string, transport: string): boolean {
    if (isOriginAllowed(this.config.checkOrigin, origin, host, this.config.publicUrl)) return true;
    this.refused(origin.slice(0, MAX_LOGGED_ORIGIN), host.slice(0, MAX_LOGGED_ORIGIN), transport);
    return false;
  }

  private refused(origin: string, host: string, transport: string): void {
    const now = this.now();
    if (now - this.windowStart >= ORIGIN_LOG_WINDOW_MS) {
      if (this.unlogged > 0) this.log.warn({ refused: this.unlogged }, `${this.unlogged} more refusals of origins not allowed (${CHECK_ORIGIN}) were not logged one by one`);
      this.windowStart = now;
      this.logged.clear();
      this.unlogged = 0;
    }
    if (this.logged.has(origin) || this.logged.size >= ORIGIN_LOG_MAX_ORIGINS) {
      this.unlogged++;
      return;
    }
    this.logged.add(origin);
    this.log.warn({ origin, host, transport }, `refused a ${transport} from origin ${origin}: ${allowHint(this.config, origin, host)}`);
  }
}

/** The setting that would let `origin` in, as an operator would type it. */
export function allowHint(config: Pick<ServerConfig, "checkOrigin" | "publicUrl">, origin: string, host: string): string {
  const { checkOrigin, publicUrl } = config;
  if (typeof checkOrigin === "function") return `the ${CHECK_ORIGIN} function refused it`;
  let parsed: URL | undefined;
  try {
    parsed = new URL(origin);
  } catch {
    // A page opened from a file, or in a sandboxed frame, sends "null".
  }
  if (!parsed || !/^https?:$/.test(parsed.protocol)) {
    return `a page opened from a file or in a sandboxed frame has no origin a list can name: serve it over http(s), or set ${CHECK_ORIGIN} to false to allow any origin`;
  }
  const own = parsed.origin;
  if (Array.isArray(checkOrigin)) return `add it to ${CHECK_ORIGIN}, e.g. ${envOf("checkOrigin")}=${[...checkOrigin, own].join(",")}`;
  if (publicUrl !== undefined) {
    const publicOrigin = new URL(publicUrl).origin;
    return `it is not the origin of publicUrl (${publicOrigin}): list both in ${CHECK_ORIGIN}, e.g. ${envOf("checkOrigin")}=${publicOrigin},${own}, or set publicUrl (${envOf("publicUrl")}) to ${own} if browsers reach this server there`;
  }
  return `without publicUrl only a loopback origin of the host connected to (${host}) is allowed: set publicUrl (${envOf("publicUrl")}=${own}) if browsers reach this server there, or list it in ${CHECK_ORIGIN}, e.g. ${envOf("checkOrigin")}=${own}`;
}
