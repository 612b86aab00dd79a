import type { RunEvent } from '../schemas/events.ts';
import { isTerminal, type RunResult } from '../schemas/result.ts';
import { createdMs, isAfterCursor, matchesRunQuery, type RunListQuery, type RunPage } from './runList.ts';
import type { IdempotencyClaim, IdempotencyRecord, Store, StoreLimits, Unsubscribe } from './types.ts';

interface RunEntry {
  run: RunResult;
  events: RunEvent[];
  /** When a terminal run may be evicted. */
  expiresAt: number;
}

/**
 * In-process store. Maps keep insertion order, so the oldest entries are
 * evicted first when a limit is reached; a sweep drops expired ones.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly #limits: StoreLimits;
  readonly #now: () => number;
  readonly #runs = new Map<string, RunEntry>();
  readonly #listeners = new Map<string, Set<(event: RunEvent) => void>>();
  readonly #cancelListeners = new Set<(runId: string) => void>();
  readonly #idempotency = new Map<string, { record: IdempotencyRecord; expiresAt: number }>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(limits: StoreLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
    this.#sweeper = setInterval(() => this.sweep(), Math.min(60_000, Math.max(1000, limits.runTtlMs / 4)));
    this.#sweeper.unref();
  }

  async saveRun(run: RunResult): Promise<void> {
    const entry = this.#runs.get(run.id);
    const expiresAt = isTerminal(run.status) ? this.#now() + this.#limits.runTtlMs : Number.POSITIVE_INFINITY;
    if (entry) {
      entry.run = run;
      entry.expiresAt = expiresAt;
      return;
    }
    this.#runs.set(run.id, { run, events: [], expiresAt });
    if (this.#runs.size > this.#limits.maxRuns) this.#evictOldestTerminal();
  }

  async getRun(id: string): Promise<RunResult | null> {
    const entry = this.#runs.get(id);
    if (!entry) return null;
    if (entry.expiresAt <= this.#now()) {
      this.#runs.delete(id);
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

  /** Synchronous: subscribers have the event when this returns. */
  appendEvent(event: RunEvent): void {
    const entry = this.#runs.get(event.run_id);
    // A full log keeps its milestones; only the repeatable summaries are dropped.
    if (entry && (entry.events.length < this.#limits.maxEventsPerRun || event.type !== 'partial_summary')) {
      entry.events.push(event);
    }
    const listeners = this.#listeners.get(event.run_id);
    if (!listeners) return;
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
    const existing = this.#idempotency.get(key);
    if (existing && existing.expiresAt > this.#now()) return { claimed: false, record: existing.record };
    this.#idempotency.delete(key);
    this.#idempotency.set(key, { record, expiresAt: this.#now() + ttlMs });
    while (this.#idempotency.size > this.#limits.maxIdempotencyKeys) {
      const oldest = this.#idempotency.keys().next().value as string;
      this.#idempotency.delete(oldest);
    }
    return { claimed: true };
  }

  async completeIdempotency(key: string, result: RunResult): Promise<void> {
    const existing = this.#idempotency.get(key);
    if (existing) existing.record = { ...existing.record, result };
  }

  async releaseIdempotency(key: string): Promise<void> {
    this.#idempotency.delete(key);
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
    for (const [id, entry] of this.#runs) if (entry.expiresAt <= now) this.#runs.delete(id);
    for (const [key, entry] of this.#idempotency) if (entry.expiresAt <= now) this.#idempotency.delete(key);
  }

  /** Number of runs held (for leak checks in tests and benchmarks). */
  get size(): { runs: number; idempotency: number; subscriptions: number } {
    return { runs: this.#runs.size, idempotency: this.#idempotency.size, subscriptions: this.#listeners.size };
  }

  #evictOldestTerminal(): void {
    for (const [id, entry] of this.#runs) {
      if (isTerminal(entry.run.status)) {
        this.#runs.delete(id);
        return;
      }
    }
  }
}
