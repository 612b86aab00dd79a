/**
 * Run-scoped memory as the stores keep it: per run, a small map of named
 * entries (JSON text), bounded in bytes and entries, expiring with the run,
 * dropped when the run ends. The run's view of it (`ctx.memory`) is
 * src/toolkit/runMemory.ts; this is the storage contract both stores honour.
 */

/** Bounds of one write: the run's totals after it, and when the run's memory expires. */
export interface MemoryBounds {
  /** Bytes of the run's memory (keys + values, UTF-8) after the write; past it the write is refused. */
  maxBytes: number;
  /** Entries of the run's memory after the write; past it a new key is refused. */
  maxEntries: number;
  /** The run's memory expires this long after the write (the run's deadline plus a grace). */
  ttlMs: number;
}

/** What a write did: stored (with the run's bytes after it), or refused by a bound (nothing changed). */
export type MemoryPut = { stored: true; bytes: number; entries: number } | { stored: false; limit: 'bytes' | 'entries'; bytes: number; entries: number };

/**
 * Per-run memory in a store. Every method is per run id; nothing is shared
 * between runs. `put` checks and writes in one step (no other write of the
 * run can slip in between).
 */
export interface RunMemoryStore {
  /** Writes (or replaces) `key` of run `runId` with `json`, unless the run's bounds refuse it. */
  put(runId: string, key: string, json: string, bounds: MemoryBounds): Promise<MemoryPut>;
  /** One entry's JSON text, or null. */
  get(runId: string, key: string): Promise<string | null>;
  /** Every entry of the run, key → JSON text (empty when it has none). */
  entries(runId: string): Promise<Record<string, string>>;
  /** Forgets everything the run holds. */
  drop(runId: string): Promise<void>;
}

/** Bytes an entry counts for: its key and value, UTF-8 (the Redis store's Lua `#` counts the same). */
export function entryBytes(key: string, json: string): number {
  return Buffer.byteLength(key) + Buffer.byteLength(json);
}

interface RunSpace {
  entries: Map<string, string>;
  bytes: number;
  expiresAt: number;
}

/**
 * The memory store's run memory: one map per run, in this process. Expired
 * runs are dropped when touched and by {@link InProcessRunMemory.sweep}
 * (called from the memory store's sweep), so a run whose end was never
 * seen still goes.
 */
export class InProcessRunMemory implements RunMemoryStore {
  readonly #runs = new Map<string, RunSpace>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async put(runId: string, key: string, json: string, bounds: MemoryBounds): Promise<MemoryPut> {
    const space = this.#live(runId) ?? { entries: new Map<string, string>(), bytes: 0, expiresAt: 0 };
    const old = space.entries.get(key);
    const after = space.bytes + entryBytes(key, json) - (old === undefined ? 0 : entryBytes(key, old));
    const count = space.entries.size + (old === undefined ? 1 : 0);
    if (old === undefined && count > bounds.maxEntries) return { stored: false, limit: 'entries', bytes: space.bytes, entries: space.entries.size };
    if (after > bounds.maxBytes) return { stored: false, limit: 'bytes', bytes: space.bytes, entries: space.entries.size };
    space.entries.set(key, json);
    space.bytes = after;
    space.expiresAt = this.#now() + bounds.ttlMs;
    this.#runs.set(runId, space);
    return { stored: true, bytes: after, entries: count };
  }

  async get(runId: string, key: string): Promise<string | null> {
    return this.#live(runId)?.entries.get(key) ?? null;
  }

  async entries(runId: string): Promise<Record<string, string>> {
    return Object.fromEntries(this.#live(runId)?.entries ?? []);
  }

  async drop(runId: string): Promise<void> {
    this.#runs.delete(runId);
  }

  /** Drops the memory of runs past their TTL. */
  sweep(): void {
    const now = this.#now();
    for (const [id, space] of this.#runs) if (space.expiresAt <= now) this.#runs.delete(id);
  }

  /** Runs holding memory, and their bytes (leak checks in tests). */
  get size(): { runs: number; bytes: number } {
    let bytes = 0;
    for (const space of this.#runs.values()) bytes += space.bytes;
    return { runs: this.#runs.size, bytes };
  }

  /** Whether run `runId` holds any memory here. */
  holds(runId: string): boolean {
    return this.#live(runId) !== undefined;
  }

  #live(runId: string): RunSpace | undefined {
    const space = this.#runs.get(runId);
    if (space && space.expiresAt <= this.#now()) {
      this.#runs.delete(runId);
      return undefined;
    }
    return space;
  }
}
