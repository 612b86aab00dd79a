import type { RunEvent } from '../schemas/events.ts';
import { isTerminal, type RunResult } from '../schemas/result.ts';
import { fitEvent } from './eventLog.ts';
import { jsonLength, jsonLengthUpdated } from './jsonBytes.ts';
import { ENTRY_OVERHEAD_BYTES, MemoryIdempotency } from './memoryIdempotency.ts';
import { InProcessRunMemory } from './runMemory.ts';
import { createdMs, isAfterCursor, matchesRunQuery, type RunListQuery, type RunPage } from './runList.ts';
import { tenantOfRun, type IdempotencyClaim, type IdempotencyRecord, type RunHead, type Store, type StoreLimits, type Unsubscribe } from './types.ts';

interface RunEntry {
  run: RunResult;
  events: RunEvent[];
  /** When a terminal run may be evicted. */
  expiresAt: number;
  tenant: string;
  /** Bytes of the record as last saved, and of the stored events. */
  recordBytes: number;
  logBytes: number;
}

/** What one tenant's runs hold. A Map keeps insertion order: the oldest come first. */
interface TenantRuns {
  runs: Map<string, RunEntry>;
  runBytes: number;
}

export { IDEMPOTENCY_SHARE_OF_STORE } from './memoryIdempotency.ts';

/**
 * In-process store, bounded by count, bytes and TTL, with space shared per
 * tenant (the tenant is read from the run id, see {@link tenantOfRun}).
 *
 * - Runs: over `maxRuns` or `maxStoreBytes`, terminal runs are evicted
 *   oldest first from the tenant holding the most bytes, so one tenant's
 *   flood of runs evicts its own runs, not another's. Running runs are never
 *   evicted.
 * - Idempotency records are never evicted before their TTL; past their
 *   limits a new key is refused ({@link MemoryIdempotency}).
 * - Event logs: bounded per run by `maxEventLogBytes` (see eventLog.ts).
 *
 * A sweep drops expired entries.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly measuresJson = true;
  readonly #limits: StoreLimits;
  readonly #now: () => number;
  readonly runMemory: InProcessRunMemory;
  readonly #runs = new Map<string, RunEntry>();
  readonly #listeners = new Map<string, Set<(event: RunEvent) => void>>();
  readonly #cancelListeners = new Set<(runId: string) => void>();
  readonly #idempotency: MemoryIdempotency;
  readonly #tenants = new Map<string, TenantRuns>();
  readonly #sweeper: NodeJS.Timeout;
  #runBytes = 0;

  constructor(limits: StoreLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
    this.runMemory = new InProcessRunMemory(now);
    this.#idempotency = new MemoryIdempotency(limits, now, (result) => this.#sizeOf(result));
    this.#sweeper = setInterval(() => this.sweep(), Math.min(60_000, Math.max(1000, limits.runTtlMs / 4)));
    this.#sweeper.unref();
  }

  async saveRun(run: RunResult): Promise<void> {
    const entry = this.#runs.get(run.id);
    const expiresAt = isTerminal(run.status) ? this.#now() + this.#limits.runTtlMs : Number.POSITIVE_INFINITY;
    const bytes = this.#sizeOf(run, entry);
    if (entry) {
      entry.run = run;
      entry.expiresAt = expiresAt;
      this.#addRunBytes(entry, bytes - entry.recordBytes);
      entry.recordBytes = bytes;
    } else {
      const tenant = tenantOfRun(run.id);
      const created: RunEntry = { run, events: [], expiresAt, tenant, recordBytes: 0, logBytes: 0 };
      this.#runs.set(run.id, created);
      this.#space(tenant).runs.set(run.id, created);
      this.#addRunBytes(created, bytes);
      created.recordBytes = bytes;
    }
    this.#evict();
  }

  async getRun(id: string): Promise<RunResult | null> {
    const entry = this.#runs.get(id);
    if (!entry) return null;
    if (entry.expiresAt <= this.#now()) {
      this.#dropRun(id, entry);
      return null;
    }
    return entry.run;
  }

  async listRuns(query: RunListQuery): Promise<RunPage> {
    const now = this.#now();
    // Insertion order is creation order, but records may carry any created_at: sort what passes the filters.
    const found: { ms: number; run: RunResult }[] = [];
    for (const entry of this.#runs.values()) {
      if (entry.expiresAt <= now || !matchesRunQuery(entry.run, query)) continue;
      const ms = createdMs(entry.run);
      if (isAfterCursor(ms, entry.run.id, query.cursor)) found.push({ ms, run: entry.run });
    }
    found.sort((a, b) => b.ms - a.ms || (a.run.id < b.run.id ? 1 : a.run.id > b.run.id ? -1 : 0));
    const page = found.slice(0, query.limit);
    const last = page.at(-1);
    return { runs: page.map((f) => f.run), next: found.length > query.limit && last ? { createdMs: last.ms, id: last.run.id } : null };
  }

  async runStatus(id: string): Promise<RunHead | null> {
    const run = await this.getRun(id);
    if (!run) return null;
    const events = (this.#runs.get(id) as RunEntry).events;
    return { status: run.status, seq: events.at(-1)?.seq ?? 0 };
  }

  /** Synchronous: subscribers have the event when this returns. */
  appendEvent(event: RunEvent): void {
    const entry = this.#runs.get(event.run_id);
    if (entry) {
      // A full log keeps its milestones (payloads elided past the byte bound); repeatable summaries are dropped.
      const { stored, bytes } = fitEvent(event, { bytes: entry.logBytes, length: entry.events.length }, this.#logLimits());
      if (stored) {
        entry.events.push(stored);
        entry.logBytes += bytes;
        this.#addRunBytes(entry, bytes);
      }
    }
    const listeners = this.#listeners.get(event.run_id);
    if (listeners) {
      for (const listener of listeners) {
        // Listeners run inside the emitting run's call stack: one reader's failure
        // must cost neither the other readers nor the run their event.
        try {
          listener(event);
        } catch {
          // The throwing listener loses its own copy only; readers recover by seq.
        }
      }
    }
    if (entry && this.#overBytes()) this.#evict();
  }

  async readEvents(runId: string, after: number): Promise<RunEvent[]> {
    const events = this.#runs.get(runId)?.events ?? [];
    // seq is dense from 1 unless summaries were dropped, so search instead of slicing at `after`.
    let lo = 0;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((events[mid] as RunEvent).seq <= after) lo = mid + 1;
      else hi = mid;
    }
    return events.slice(lo);
  }

  subscribe(runId: string, listener: (event: RunEvent) => void): Unsubscribe {
    let set = this.#listeners.get(runId);
    if (!set) {
      set = new Set();
      this.#listeners.set(runId, set);
    }
    set.add(listener);
    return () => {
      const current = this.#listeners.get(runId);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.#listeners.delete(runId);
    };
  }

  async publishCancel(runId: string): Promise<void> {
    for (const listener of this.#cancelListeners) listener(runId);
  }

  onCancel(listener: (runId: string) => void): Unsubscribe {
    this.#cancelListeners.add(listener);
    return () => this.#cancelListeners.delete(listener);
  }

  async claimIdempotency(key: string, record: IdempotencyRecord, ttlMs: number): Promise<IdempotencyClaim> {
    const claim = this.#idempotency.claim(key, record, ttlMs);
    // Room for a new record comes out of runs, never out of other records.
    if (claim.claimed) this.#evict();
    return claim;
  }

  async completeIdempotency(key: string, result: RunResult): Promise<void> {
    this.#idempotency.complete(key, result);
    this.#evict();
  }

  async releaseIdempotency(key: string): Promise<void> {
    this.#idempotency.release(key);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#listeners.clear();
    this.#cancelListeners.clear();
  }

  /** Drops expired runs and idempotency records. Runs on a timer; exposed for tests. */
  sweep(): void {
    const now = this.#now();
    this.runMemory.sweep();
    for (const [id, entry] of this.#runs) if (entry.expiresAt <= now) this.#dropRun(id, entry);
    this.#idempotency.sweep();
  }

  /** Number of runs held (for leak checks in tests and benchmarks). */
  get size(): { runs: number; idempotency: number; subscriptions: number } {
    return { runs: this.#runs.size, idempotency: this.#idempotency.size, subscriptions: this.#listeners.size };
  }

  /** Bytes held, in all and per tenant (for tests and metrics). */
  get bytes(): { runs: number; idempotency: number; tenants: Record<string, { runs: number; idempotency: number }> } {
    const tenants: Record<string, { runs: number; idempotency: number }> = {};
    const records = this.#idempotency.tenantBytes();
    for (const tenant of new Set([...this.#tenants.keys(), ...records.keys()])) tenants[tenant] = { runs: this.#tenants.get(tenant)?.runBytes ?? 0, idempotency: records.get(tenant) ?? 0 };
    return { runs: this.#runBytes, idempotency: this.#idempotency.bytes, tenants };
  }

  #logLimits() {
    return { maxEventLogBytes: this.#limits.maxEventLogBytes ?? Number.POSITIVE_INFINITY, maxEventsPerRun: this.#limits.maxEventsPerRun };
  }

  /**
   * A record's bytes: its JSON, measured once (records are never edited once saved), without serializing the
   * bundle again (`jsonBytes.ts`); an update of the record `held` (`{ ...record, status, … }`) by what changed.
   */
  #sizeOf(value: object, held?: RunEntry): number {
    const json = held ? jsonLengthUpdated(held.run, held.recordBytes - ENTRY_OVERHEAD_BYTES, value) : jsonLength(value, true);
    return json + ENTRY_OVERHEAD_BYTES;
  }

  #space(tenant: string): TenantRuns {
    let space = this.#tenants.get(tenant);
    if (!space) {
      space = { runs: new Map(), runBytes: 0 };
      this.#tenants.set(tenant, space);
    }
    return space;
  }

  #forget(tenant: string, space: TenantRuns): void {
    if (space.runs.size === 0) this.#tenants.delete(tenant);
  }

  #addRunBytes(entry: RunEntry, delta: number): void {
    this.#runBytes += delta;
    this.#space(entry.tenant).runBytes += delta;
  }

  #overBytes(): boolean {
    const max = this.#limits.maxStoreBytes;
    return max !== undefined && this.#runBytes + this.#idempotency.bytes > max;
  }

  /** Evicts terminal runs, from the tenant holding the most run bytes first, until counts and bytes fit. */
  #evict(): void {
    while (this.#runs.size > this.#limits.maxRuns || this.#overBytes()) {
      const victim = this.#evictionCandidate();
      if (!victim) return; // only running runs left: they end (and become evictable) in bounded time
      this.#dropRun(victim.run.id, victim);
    }
  }

  #evictionCandidate(): RunEntry | null {
    // The heaviest tenant first (the first of equals in insertion order); one whose runs all still run is passed over.
    // A scan, not a sorted copy: a full store evicts on every new run.
    let passed: Set<TenantRuns> | null = null;
    for (;;) {
      let heaviest: TenantRuns | null = null;
      for (const space of this.#tenants.values()) {
        if (space.runs.size > 0 && !passed?.has(space) && (heaviest === null || space.runBytes > heaviest.runBytes)) heaviest = space;
      }
      if (heaviest === null) return null;
      for (const entry of heaviest.runs.values()) if (isTerminal(entry.run.status)) return entry;
      (passed ??= new Set()).add(heaviest);
    }
  }

  #dropRun(id: string, entry: RunEntry): void {
    if (this.#runs.get(id) !== entry) return;
    this.#runs.delete(id);
    const space = this.#space(entry.tenant);
    space.runs.delete(id);
    this.#addRunBytes(entry, -(entry.recordBytes + entry.logBytes));
    this.#forget(entry.tenant, space);
  }
}
