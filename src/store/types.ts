import type { RunEvent } from '../schemas/events.ts';
import type { RunResult, RunStatus } from '../schemas/result.ts';
import type { RunMemoryStore } from './runMemory.ts';
import type { RunListQuery, RunPage } from './runList.ts';

/** Stops a subscription. */
export type Unsubscribe = () => void;

/** An idempotency record: which run a key started, for which request. */
export interface IdempotencyRecord {
  fingerprint: string;
  run_id: string;
  /** The terminal result, kept so replays outlive the run record. */
  result: RunResult | null;
  created_at: number;
}

/** Outcome of claiming an idempotency key. */
export type IdempotencyClaim = { claimed: true } | { claimed: false; record: IdempotencyRecord };

/**
 * Where runs, their events and idempotency records live. The memory store
 * serves one process; the Redis store lets replicas share all of it. Both
 * run the same contract tests (test/store/contract.ts).
 *
 * Events are appended in `seq` order by the run's owner; `subscribe` delivers
 * appended events of a run to listeners in any replica.
 */
export interface Store {
  /** Short name for logs and readiness (`memory`, `redis`). */
  readonly kind: string;
  /**
   * Whether the store measures records and events by their JSON in this
   * process (the memory store's byte bounds, `jsonBytes.ts`): then whoever
   * builds one may remember its length (the final record's from the JSON
   * its answer is sent as, in `RunLifecycle.finish`), so that it is not
   * serialized again to be measured.
   */
  readonly measuresJson?: boolean;
  /**
   * Whether every write has taken effect in this process when the call
   * returns (the memory store): what a turn of the event loop writes is
   * seen by every request handled after that turn. Then a synchronous
   * answer may go out before its run's last writes, made later in the
   * same turn (`RunHandle.answer`, src/runs/runTypes.ts).
   */
  readonly writesInProcess?: boolean;
  /** Writes (creates or replaces) a run record; `json`, when the caller has it, is `JSON.stringify(run)` (not serialized again). */
  saveRun(run: RunResult, json?: string): Promise<void>;
  /** A run record, or null when unknown or expired. */
  getRun(id: string): Promise<RunResult | null>;
  /**
   * Live records matching `query`, newest first (creation time, then id,
   * descending), at most `query.limit`, after `query.cursor`. A page may
   * hold fewer than `limit` and still have a `next` (a store may bound the
   * records it looks at per call).
   */
  listRuns(query: RunListQuery): Promise<RunPage>;
  /**
   * A run's status and the highest `seq` in its log, without reading the
   * record (followers watch this, one read per run, whatever its size).
   * While the store holds writes of the run it could not make yet (a Redis
   * outage), it answers a head that has not ended, never null: the run is
   * still being written, even if the store came back without it.
   */
  runStatus(id: string): Promise<RunHead | null>;
  /**
   * Appends one event to the run's log and fans it out to subscribers. A
   * store that can do it synchronously returns nothing (the memory store:
   * no promise per event on the hot path); others return the pending write.
   */
  appendEvent(event: RunEvent): Promise<void> | void;
  /** Events with `seq > after`, in order. */
  readEvents(runId: string, after: number): Promise<RunEvent[]>;
  /** Live events of a run appended after this call. */
  subscribe(runId: string, listener: (event: RunEvent) => void): Unsubscribe;
  /** Asks whichever replica owns the run to cancel it. */
  publishCancel(runId: string): Promise<void>;
  /** Called with a run id when any replica asks for its cancellation. */
  onCancel(listener: (runId: string) => void): Unsubscribe;
  /** Atomically claims `key` for `fingerprint`/`runId`, or returns who holds it. */
  claimIdempotency(key: string, record: IdempotencyRecord, ttlMs: number): Promise<IdempotencyClaim>;
  /** Stores the terminal result on a claimed key (keeps its TTL). */
  completeIdempotency(key: string, result: RunResult): Promise<void>;
  /** Frees a key whose run could not start, so a retry may claim it. */
  releaseIdempotency(key: string): Promise<void>;
  /** Run-scoped memory (`ctx.memory`): per run, bounded, dropped when the run ends (src/store/runMemory.ts). */
  readonly runMemory: RunMemoryStore;
  /** Throws when the store cannot serve (readiness). */
  ping(): Promise<void>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** What a follower needs to know about a run between events. */
export interface RunHead {
  status: RunStatus;
  /** Highest `seq` appended to the run's log (0 before the first event). */
  seq: number;
}

/** Size limits and TTLs every store honours. */
export interface StoreLimits {
  runTtlMs: number;
  maxRuns: number;
  maxEventsPerRun: number;
  maxIdempotencyKeys: number;
  /** Bytes of one run's stored events (MAX_EVENT_LOG_BYTES; see eventLog.ts). Unset: unbounded. */
  maxEventLogBytes?: number;
  /** Bytes of records, logs and idempotency records a store holds in process memory (MAX_STORE_BYTES; memory store). */
  maxStoreBytes?: number;
  /** Idempotency records one tenant may hold (MAX_IDEMPOTENCY_KEYS_PER_TENANT; memory store). */
  maxIdempotencyKeysPerTenant?: number;
}

/** The tenant of unauthenticated callers (as the orchestrator names it). */
const PUBLIC = 'public';

/**
 * The tenant a run belongs to, as the tag its id carries (`run_<tag>_<32 hex>`,
 * or `run_<32 hex>` for the public tenant; see the orchestrator's `runId`), so
 * stores can share space per tenant without a lookup. Any tag is fine: stores
 * only compare them.
 */
export function tenantOfRun(runId: string): string {
  const match = /^run_(.+)_[0-9a-f]{32}$/.exec(runId);
  return match ? (match[1] as string) : PUBLIC;
}
