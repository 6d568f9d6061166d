import { Presence } from "phoenix";
import { makeReplicaId } from "../../crdt/index.js";
import { PresenceService, type PresenceDiff, type PresenceMap, type PresenceServiceOptions } from "../../server/presence/index.js";
import type { FakeNetwork } from "./fake-network.js";

export const TIMINGS = {
  broadcastPeriod: 100,
  maxSilentPeriods: 5,
  downPeriod: 1_000,
  permdownPeriod: 5_000,
  clockSamplePeriods: 2,
} as const;

type SyncDiff = (state: PresenceMap, diff: PresenceDiff) => PresenceMap;
const phoenixPresence = Presence as unknown as { syncDiff: SyncDiff };
const syncDiff: SyncDiff = (state, diff) => phoenixPresence.syncDiff(state, diff);

/**
 * A node of the test cluster: a PresenceService plus, per watched topic, the state a
 * real phoenix.js client would hold after `presence_state` and every `presence_diff`.
 */
export class TestNode {
  readonly service: PresenceService;
  readonly diffs: Array<{ topic: string; diff: PresenceDiff }> = [];
  private readonly clientStates = new Map<string, PresenceMap>();

  constructor(
    readonly name: string,
    network: FakeNetwork,
    topics: readonly string[],
    options: Partial<PresenceServiceOptions> & { incarnation: string },
  ) {
    // The lane is made before the service, so it is named by the replica id the service will take.
    const replica = makeReplicaId(name, options.incarnation);
    this.service = new PresenceService({
      nodeName: name,
      gossip: network.gossip(replica),
      ...TIMINGS,
      ...options,
      onError: (error) => {
        throw error;
      },
    });
    if (this.service.replica !== replica) throw new Error(`test node ${name}: replica ${this.service.replica}, lane ${replica}`);
    for (const topic of topics) this.clientStates.set(topic, clone(this.service.list(topic)));
    this.service.onDiff((topic, diff) => {
      this.diffs.push({ topic, diff: clone(diff) });
      const state = this.clientStates.get(topic);
      if (state) this.clientStates.set(topic, syncDiff(state, clone(diff)));
    });
    this.service.start();
  }

  /** What a phoenix.js client watching `topic` on this node shows. */
  clientView(topic: string): PresenceMap {
    return this.clientStates.get(topic)!;
  }
}

export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** A comparable rendering of a presence map: key order and meta order included. */
export function render(map: PresenceMap): string {
  return JSON.stringify(Object.entries(map).map(([key, { metas }]) => [key, metas]));
}

/** Order-insensitive rendering, for client views (phoenix.js orders metas by arrival). */
export function renderUnordered(map: PresenceMap): string {
  return JSON.stringify(
    Object.keys(map)
      .sort()
      .map((key) => [key, map[key].metas.map((meta) => JSON.stringify(meta)).sort()]),
  );
}
