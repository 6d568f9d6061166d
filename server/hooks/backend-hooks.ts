import type { ChannelHandler } from "../channel/handler.js";
import type { ConnectHook } from "../endpoint/connect-hook.js";
import type { Logger } from "../ops/logger.js";
import type { HooksConfig } from "../settings/hooks-setting.js";
import { planHooks } from "../settings/hooks-setting.js";
import { connectBackend } from "./connect-backend.js";
import { HookCaller } from "./hook-caller.js";
import { hookChannel } from "./hook-channel.js";
import type { HookMetrics } from "./hook-metrics.js";

/**
 * A thread's backend hooks, built from the `hooks` setting: the connect hook and one channel per
 * configured topic pattern, sharing one caller. Every thread of a node builds its own, with an
 * equal share of the node's `concurrency` and `queue` (rounded up, at least 1 each).
 */
export class BackendHooks {
  readonly connect: ConnectHook | undefined;
  readonly channels: ReadonlyArray<{ pattern: string; handler: ChannelHandler }>;
  private readonly caller: HookCaller;

  constructor(config: HooksConfig, context: { node: string; threads: number; metrics: HookMetrics; log: Logger }) {
    const plan = planHooks(config);
    const share = { concurrency: Math.ceil(plan.concurrency / context.threads), queue: Math.ceil(plan.queue / context.threads) };
    this.caller = new HookCaller(plan, share, context.node, context.metrics, context.log);
    this.connect = plan.connect && connectBackend(plan.connect, this.caller);
    this.channels = plan.channels.map(({ pattern, hooks }) => ({ pattern, handler: hookChannel(hooks, this.caller) }));
  }

  close(): void {
    this.caller.close();
  }
}
