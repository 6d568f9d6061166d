import type { Fabric, Responder } from "../fabric/fabric.js";
import type { Logger } from "../ops/logger.js";
import type { HistoryMetrics } from "./history-metrics.js";
import type { HistoryAppend, HistoryAuthority, HistoryLimits, HistoryPage } from "./history.js";
import { PendingStores, type StoreLimits } from "./pending-stores.js";
import { fromOutcome, storeOutcome, type StoredBroadcast, type StoreOutcome } from "./store-error.js";

/** How long a join waits for its topic's history from the main thread (which may ask Redis). */
const HISTORY_READ_TIMEOUT_MS = 5000;
/** How much longer than its own store timeout a worker waits for the main thread's answer. */
const MAIN_THREAD_MARGIN_MS = 200;

/** The lanes a worker's history goes to its node's main thread on: appends (one-way), stores (answered with their outcome) and reads (a HistoryPage, or null when the authority could not be read). */
export const HISTORY_APPEND_LANE = "history-append";
export const HISTORY_STORE_LANE = "history-store";
export const HISTORY_READ_LANE = "history-read";

/** A question on the history read lane. */
interface HistoryRead {
  topic: string;
  since: number;
  limit: number;
  limits: HistoryLimits;
}

export interface WorkerHistoryAuthorityOptions {
  fabric: Pick<Fabric, "ask" | "tell">;
  /** Stored broadcasts waiting on the main thread, and how long each is waited on. */
  stores: StoreLimits;
  metrics: HistoryMetrics;
}

/**
 * The history of a worker thread: its node's main thread is the authority (in memory, or its
 * Redis connections). Appends and stores go on the same port, so they keep their order.
 */
export class WorkerHistoryAuthority implements HistoryAuthority {
  private readonly stores: PendingStores;

  constructor(private readonly options: WorkerHistoryAuthorityOptions) {
    const pending = options.metrics.historyStoresPending.labels({ on: "main_thread" });
    this.stores = new PendingStores({ ...options.stores, onSize: (size) => pending.set(size) });
  }

  append(message: HistoryAppend): void {
    this.options.fabric.tell(HISTORY_APPEND_LANE, "main", message);
  }

  /**
   * The main thread answers within its own historyStoreTimeoutMs; this thread waits a little
   * longer for that answer, and its caller no longer than historyStoreTimeoutMs.
   */
  store(message: HistoryAppend): Promise<StoredBroadcast> {
    const { fabric, stores } = this.options;
    return this.stores.run(() =>
      fabric.ask(HISTORY_STORE_LANE, "main", message, stores.timeoutMs + MAIN_THREAD_MARGIN_MS).then(([outcome]) => fromOutcome(outcome as StoreOutcome | undefined)),
    );
  }

  async read(topic: string, since: number, limit: number, limits: HistoryLimits): Promise<HistoryPage> {
    const question: HistoryRead = { topic, since, limit, limits };
    const [page] = await this.options.fabric.ask(HISTORY_READ_LANE, "main", question, HISTORY_READ_TIMEOUT_MS);
    if (!page) throw new Error(`the history of ${topic} could not be read`);
    return page as HistoryPage;
  }
}

/** What serveWorkerHistory needs of the node's main thread. */
export interface HistoryMainThread {
  serve(lane: string, responder: Responder): void;
  /** Sends the broadcasts on their way to the workers now. */
  flush(): void;
}

/** The main thread's side of its workers' history: their appends, stores and reads go to the node's `authority`. */
export function serveWorkerHistory(main: HistoryMainThread, authority: HistoryAuthority, log: Logger): void {
  main.serve(HISTORY_APPEND_LANE, async (message) => authority.append(message as HistoryAppend));
  main.serve(HISTORY_STORE_LANE, (message) => storeOutcome(authority.store(message as HistoryAppend)));
  main.serve(HISTORY_READ_LANE, async (question) => {
    const { topic, since, limit, limits } = question as HistoryRead;
    let page: HistoryPage | null;
    try {
      page = await authority.read(topic, since, limit, limits);
    } catch (err) {
      log.warn({ err, topic }, "could not read a topic's history from Redis");
      page = null;
    }
    // The page must not overtake broadcasts already on their way to the asking worker.
    main.flush();
    return page;
  });
}
