import { ServiceError } from '../errors.ts';
import type { RunResult } from '../schemas/result.ts';
import { tenantOfRun, type IdempotencyClaim, type IdempotencyRecord, type StoreLimits } from './types.ts';

/** Idempotency records may fill at most this share of MAX_STORE_BYTES; runs are evicted to make room, records never are. */
export const IDEMPOTENCY_SHARE_OF_STORE = 0.5;

/** Fixed overhead counted per record (Map entry, object headers, strings' headers). */
export const ENTRY_OVERHEAD_BYTES = 256;

interface IdempotencyEntry {
  record: IdempotencyRecord;
  expiresAt: number;
  tenant: string;
  bytes: number;
}

/** One tenant's records; a Map keeps insertion order, so the oldest comes first. */
interface TenantRecords {
  entries: Map<string, IdempotencyEntry>;
  bytes: number;
}

/**
 * The memory store's idempotency records, never evicted before their TTL:
 * when their count or bytes reach the limits, a new key is refused — 429
 * `rate_limited` when the asking tenant holds its share
 * (`maxIdempotencyKeysPerTenant` of `maxIdempotencyKeys`, by count and by
 * bytes), else 503 `unavailable`; both with Retry-After until the oldest
 * record in the way expires.
 */
export class MemoryIdempotency {
  readonly #limits: StoreLimits;
  readonly #now: () => number;
  /** A stored result's bytes, as the store measures records. */
  readonly #sizeOf: (result: RunResult) => number;
  readonly #entries = new Map<string, IdempotencyEntry>();
  readonly #tenants = new Map<string, TenantRecords>();
  #bytes = 0;
  /** When a refused claim last swept: refusals at a limit sweep at most once a second, not once per request. */
  #lastRefusalSweep = Number.NEGATIVE_INFINITY;

  constructor(limits: StoreLimits, now: () => number, sizeOf: (result: RunResult) => number) {
    this.#limits = limits;
    this.#now = now;
    this.#sizeOf = sizeOf;
  }

  /** Bytes all records hold. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Bytes per tenant holding records. */
  tenantBytes(): Map<string, number> {
    return new Map([...this.#tenants].map(([tenant, t]) => [tenant, t.bytes]));
  }

  /** Claims `key` for `record`, or answers the live record holding it; throws when records are at their limits. */
  claim(key: string, record: IdempotencyRecord, ttlMs: number): IdempotencyClaim {
    const now = this.#now();
    const existing = this.#entries.get(key);
    if (existing && existing.expiresAt > now) return { claimed: false, record: existing.record };
    if (existing) this.#drop(key, existing);
    const tenant = tenantOfRun(record.run_id);
    const bytes = recordBytes(key, record, 0);
    this.#admit(tenant, bytes, now);
    const entry: IdempotencyEntry = { record, expiresAt: now + ttlMs, tenant, bytes };
    this.#entries.set(key, entry);
    const mine = this.#tenant(tenant);
    mine.entries.set(key, entry);
    mine.bytes += bytes;
    this.#bytes += bytes;
    return { claimed: true };
  }

  /** Stores the terminal result on the record, for replays. */
  complete(key: string, result: RunResult): void {
    const existing = this.#entries.get(key);
    if (!existing) return;
    existing.record = { ...existing.record, result };
    const bytes = recordBytes(key, existing.record, this.#sizeOf(result));
    this.#tenant(existing.tenant).bytes += bytes - existing.bytes;
    this.#bytes += bytes - existing.bytes;
    existing.bytes = bytes;
  }

  release(key: string): void {
    const existing = this.#entries.get(key);
    if (existing) this.#drop(key, existing);
  }

  /** Drops expired records. */
  sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#drop(key, entry);
  }

  #tenant(tenant: string): TenantRecords {
    let mine = this.#tenants.get(tenant);
    if (!mine) {
      mine = { entries: new Map(), bytes: 0 };
      this.#tenants.set(tenant, mine);
    }
    return mine;
  }

  #drop(key: string, entry: IdempotencyEntry): void {
    if (this.#entries.get(key) !== entry) return;
    this.#entries.delete(key);
    const mine = this.#tenant(entry.tenant);
    mine.entries.delete(key);
    mine.bytes -= entry.bytes;
    this.#bytes -= entry.bytes;
    if (mine.entries.size === 0) this.#tenants.delete(entry.tenant);
  }

  #sweepForRefusal(now: number): void {
    if (now - this.#lastRefusalSweep < 1000) return;
    this.#lastRefusalSweep = now;
    this.sweep();
  }

  /** Refuses a new key when records are at their limits (they are never evicted to make room). */
  #admit(tenant: string, bytes: number, now: number): void {
    const maxKeys = this.#limits.maxIdempotencyKeys;
    const perTenant = Math.min(this.#limits.maxIdempotencyKeysPerTenant ?? maxKeys, maxKeys);
    const maxBytes = this.#limits.maxStoreBytes === undefined ? Number.POSITIVE_INFINITY : this.#limits.maxStoreBytes * IDEMPOTENCY_SHARE_OF_STORE;
    const tenantMaxBytes = maxBytes * (perTenant / maxKeys);
    const mine = this.#tenants.get(tenant);
    if (mine && (mine.entries.size >= perTenant || mine.bytes + bytes > tenantMaxBytes)) {
      this.#sweepForRefusal(now);
      if (mine.entries.size >= perTenant || mine.bytes + bytes > tenantMaxBytes) {
        throw new ServiceError('rate_limited', `this tenant holds too many idempotency records (${mine.entries.size}, MAX_IDEMPOTENCY_KEYS_PER_TENANT=${perTenant}); retry later or send requests without Idempotency-Key`, {
          retryAfterMs: untilFirstExpiry(mine.entries, now),
          details: { limit: 'MAX_IDEMPOTENCY_KEYS_PER_TENANT' },
        });
      }
    }
    if (this.#entries.size >= maxKeys || this.#bytes + bytes > maxBytes) {
      this.#sweepForRefusal(now);
      if (this.#entries.size >= maxKeys || this.#bytes + bytes > maxBytes) {
        throw new ServiceError('unavailable', `the idempotency store is full (MAX_IDEMPOTENCY_KEYS=${maxKeys}, or its share of MAX_STORE_BYTES); retry later`, {
          retryAfterMs: untilFirstExpiry(this.#entries, now),
          details: { limit: 'MAX_IDEMPOTENCY_KEYS' },
        });
      }
    }
  }
}

/** Bytes of an idempotency record: key, fingerprint, ids, and the stored result. */
function recordBytes(key: string, record: IdempotencyRecord, resultBytes: number): number {
  return key.length + record.fingerprint.length + record.run_id.length + resultBytes + ENTRY_OVERHEAD_BYTES;
}

/** Milliseconds until the first (oldest) record of `entries` expires: when a refused key may be tried again. */
function untilFirstExpiry(entries: Map<string, IdempotencyEntry>, now: number): number {
  let first = Number.POSITIVE_INFINITY;
  for (const entry of entries.values()) {
    first = Math.min(first, entry.expiresAt);
    break; // insertion order: with one TTL the first is the oldest
  }
  return Number.isFinite(first) ? Math.max(1000, first - now) : 1000;
}
