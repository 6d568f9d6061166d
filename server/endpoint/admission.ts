import type { Authenticator } from "../auth/auth-config.js";
import { DASHBOARD_SOCKET_PARAM, DASHBOARD_TOPIC } from "../dashboard/dashboard-channel.js";
import type { AuthOutcome, Identity } from "../auth/identity.js";
import type { Logger } from "../ops/logger.js";
import type { SocketSessionInit } from "../socket/connection.js";
import { ConnectUnavailable, type ConnectHook, type ConnectInfo, type ConnectResult } from "./connect-hook.js";
import { sameSecret } from "../auth/secret.js";

/** What a new socket is admitted with: the assigns its channels start from, and its session. */
export interface Admitted {
  ok: true;
  assigns: Readonly<Record<string, unknown>>;
  session: SocketSessionInit;
}

/**
 * The assigns of every socket admitted without any (no token meta, no connect hook): one frozen
 * object for all of them, rather than an empty object per socket (56 bytes each). A channel's
 * own assigns are a copy, so nothing ever writes to the socket's.
 */
const NO_ASSIGNS: Readonly<Record<string, unknown>> = Object.freeze({});

/** Why a new socket was refused: the HTTP status, the metric's reason, and what the client is told. */
export interface Refused {
  ok: false;
  status: number;
  reason: string;
  error: string;
}

export interface AdmissionOptions {
  /** Built-in auth: the token is verified first. */
  authenticator: Authenticator | undefined;
  /** The connect hook, seeing the verified identity. */
  connect: ConnectHook | undefined;
  log: Logger;
  /** Which transport asks, for the log ("websocket", "longpoll"). */
  transport: string;
  /** When the dashboard is served: its key (undefined: open), which admits the dashboard's own socket. */
  dashboard?: { key: string | undefined };
}

/**
 * Decides whether a new socket may open, whatever its transport: built-in auth (if any), then
 * the connect hook. `decide` is called once, synchronously when nothing needs to be awaited
 * (no auth and no hook, or both synchronous), so a WebSocket upgrade can answer in its callback.
 */
export function admit(
  options: AdmissionOptions,
  params: Readonly<Record<string, string>>,
  info: Omit<ConnectInfo, "identity">,
  decide: (outcome: Admitted | Refused) => void,
): void {
  const { authenticator, connect, log, transport } = options;
  if (options.dashboard && params[DASHBOARD_SOCKET_PARAM] !== undefined) return decide(admitDashboard(options.dashboard.key, info, log, transport));
  const fail = (what: string, err: unknown) => {
    if (err instanceof ConnectUnavailable) return decide({ ok: false, status: 503, reason: "connect_unavailable", error: err.message });
    log.error({ err }, `${what} threw`);
    decide({ ok: false, status: 500, reason: "connect_error", error: "connect failed" });
  };

  // After built-in auth (if any): the connect hook, which sees the verified identity.
  const connectWith = (identity: Identity | undefined) => {
    // The token's meta seeds the assigns; its sub is the socket's id unless the hook names one.
    const session: SocketSessionInit = identity ? { auth: { authenticator: authenticator as Authenticator, identity }, id: identity.userId } : {};
    const base = identity ? { ...identity.meta } : NO_ASSIGNS;
    if (!connect) return decide({ ok: true, assigns: base, session });
    const settle = (result: ConnectResult) => {
      if (result === false) return decide({ ok: false, status: 403, reason: "connect", error: "connection refused" });
      const accepted = result === true ? {} : result ?? {};
      decide({ ok: true, assigns: { ...base, ...(accepted.assigns ?? {}) }, session: { ...session, id: accepted.id ?? session.id } });
    };
    try {
      const result = connect(params, { ...info, identity });
      if (result instanceof Promise) result.then(settle, (err: unknown) => fail("connect hook", err));
      else settle(result);
    } catch (err) {
      fail("connect hook", err);
    }
  };

  if (!authenticator) return connectWith(undefined);
  const verified = (outcome: AuthOutcome) => {
    if (outcome.ok) return connectWith(outcome.identity);
    // The reason and what was wrong go to the log; the token never does.
    log.info({ reason: `${outcome.reason} token`, detail: outcome.detail, remoteAddress: info.remoteAddress }, `${transport} refused by auth`);
    decide({ ok: false, status: 403, reason: `token_${outcome.reason}`, error: `${outcome.reason} token` });
  };
  try {
    const outcome = authenticator.verify(info.authToken ?? params.token);
    if (outcome instanceof Promise) outcome.then(verified, (err: unknown) => fail("token verification", err));
    else verified(outcome);
  } catch (err) {
    fail("token verification", err);
  }
}

/**
 * The dashboard page's own socket (`?cinder_dashboard=1`, its key as the auth token): let in by
 * the dashboard key alone, whatever built-in auth or the connect hook would say, since an
 * operator's dashboard holds no user token and the app's hook knows nothing of it. It may then
 * join the dashboard's topic and nothing else: it is no user's socket (no id, no assigns), so
 * the key opens exactly what it opened before, the dashboard.
 */
function admitDashboard(key: string | undefined, info: Omit<ConnectInfo, "identity">, log: Logger, transport: string): Admitted | Refused {
  if (key !== undefined && !sameSecret(info.authToken ?? "", key)) {
    log.info({ remoteAddress: info.remoteAddress }, `${transport} refused: wrong dashboard key`);
    return { ok: false, status: 403, reason: "dashboard_key", error: "wrong dashboard key" };
  }
  return { ok: true, assigns: NO_ASSIGNS, session: { topics: [DASHBOARD_TOPIC] } };
}
