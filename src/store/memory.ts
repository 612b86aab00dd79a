import type { RunEvent } from '../schemas/events.ts';
import { isTerminal, type RunResult } from '../schemas/result.ts';
import { fitEvent } from './eventLog.ts';
import { jsonLength, jsonLengthUpdated } from './jsonBytes.ts';
import { ENTRY_OVERHEAD_BYTES, MemoryIdempotency } from './memoryIdempotency.ts';
import { InProcessRunMemory } from './runMemory.ts';
import { createdMs, isAfterCursor, matchesRunQuery, type RunListQuery, type RunPage } from './runList.ts';
import { tenantOfRun, type IdempotencyClaim, type IdempotencyRecord, type RunHead, type Store, type StoreLimits, type Unsubscribe } from './types.ts';

interface RunEntry {
  /** The record; for a frozen run, only the members the store itself reads (`frozen.json` is the record). */
  run: RunResult | RunHead & StoredHead;
  /** The stored events, as objects while the run is live (empty once frozen). */
  events: RunEvent[];
  /** Each stored event's JSON as {@link eventText} made it when it was appended (it gave its length), for {@link freeze}. */
  texts: string[];
  /** A finished run's record and events as their JSON ({@link freeze}), or null while it is live. */
  frozen: Frozen | null;
  /** JSON of the last saved record, when its saver had it (`saveRun`'s second argument): kept only until frozen. */
  json: string | undefined;
  /** When a terminal run may be evicted. */
  expiresAt: number;
  tenant: string;
  /** Bytes of the record as last saved, and of the stored events. */
  recordBytes: number;
  logBytes: number;
}

/** What the store reads of a record besides its JSON: eviction, listing and `runStatus`. */
interface StoredHead {
  id: string;
  tool: string;
  created_at: string;
}

/**
 * A finished run as text. Kept as objects, a finished run is dozens of
 * small objects for the collector to trace at every full collection for as
 * long as the store holds it (an hour by default, 10,000 runs); as JSON it
 * is a few strings, which the collector never looks into. The events'
 * members that are parts of the record itself (`run_completed`'s result,
 * `bundle_ready`'s bundle, a replicate, the summary) are not written twice:
 * each is stored as `null` with a reference ({@link Part}) into the
 * record. Read back, it is parsed: a record read is the record saved, an
 * event read the event stored, member for member (BENCHMARKS.md, eighth
 * pass).
 */
interface Frozen {
  json: string;
  /** Each stored event's JSON, with the member named by `parts` written as null. */
  events: string[];
  /** Per event, which part of the record its member is, as {@link Part} codes. */
  parts: number[];
  /**
   * The record as last parsed, while a reader still holds it (its events
   * with it, {@link parsedEvents}): readers of one finished run at once (a
   * crowd of followers, each holding the log's `run_completed`) share one
   * parsed copy, as they shared the live objects, instead of each parsing
   * its own.
   */
  read: WeakRef<RunResult> | null;
}

/** The events parsed with a frozen run's record, for as long as that record lives. */
const parsedEvents = new WeakMap<RunResult, RunEvent[]>();

/**
 * Runs whose record and log hold more than this stay objects when they end:
 * a large run is one of few, and parsing it on every read would cost more
 * than tracing it.
 */
export const FREEZE_MAX_BYTES = 256 * 1024;

/**
 * Which member of an event is a part of the record: none, the record
 * (`result`), its bundle (`bundle`), its summary (`summary`), or replicate
 * number k of its bundle (`replicate`, coded k ≥ 0).
 */
const Part = { none: -1, record: -2, bundle: -3, summary: -4 } as const;

/** The member of an event of each type that may be a part of the run's record. */
type PartMember = 'result' | 'bundle' | 'summary' | 'replicate';

function partMember(event: RunEvent): PartMember | null {
  switch (event.type) {
    case 'run_completed':
      return 'result';
    case 'bundle_ready':
      return 'bundle';
    case 'partial_summary':
      return 'summary';
    case 'replicate_done':
      return 'replicate';
    default:
      return null;
  }
}

/** The object an event holds in its {@link partMember}, or null when it holds none there. */
function partValue(event: RunEvent): object | null {
  const member = partMember(event);
  const value: unknown = member === null ? null : (event as Record<string, unknown>)[member];
  return value !== null && typeof value === 'object' ? value : null;
}

/**
 * An event's JSON and its exact length as stored (that of `JSON.stringify(event)`).
 * The object it holds in its {@link partMember} (a replicate, the bundle, the
 * summary, the record itself) is written as `null` and measured by
 * `jsonBytes.ts`, which serializes each such part once however many events and
 * records hold it.
 */
function eventText(event: RunEvent): { text: string; bytes: number } {
  const part = partValue(event);
  if (part === null) {
    const text = JSON.stringify(event);
    return { text, bytes: text.length };
  }
  // Spread, then set: the member keeps its place, so the text is the event's JSON with `null` where the part goes.
  const text = JSON.stringify({ ...event, [partMember(event) as PartMember]: null });
  return { text, bytes: text.length - 'null'.length + jsonLength(part, true) };
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
  readonly writesInProcess = true;
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
  /** Finished runs to freeze once the turn that finished them is over (off the path of their answers). */
  #toFreeze: RunEntry[] = [];
  #freezing: NodeJS.Immediate | null = null;

  constructor(limits: StoreLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
    this.runMemory = new InProcessRunMemory(now);
    this.#idempotency = new MemoryIdempotency(limits, now, (result) => this.#sizeOf(result));
    this.#sweeper = setInterval(() => this.sweep(), Math.min(60_000, Math.max(1000, limits.runTtlMs / 4)));
    this.#sweeper.unref();
  }

  async saveRun(run: RunResult, json?: string): Promise<void> {
    const entry = this.#runs.get(run.id);
    const expiresAt = isTerminal(run.status) ? this.#now() + this.#limits.runTtlMs : Number.POSITIVE_INFINITY;
    if (entry?.frozen) thaw(entry);
    const bytes = this.#sizeOf(run, entry);
    if (entry) {
      entry.run = run;
      entry.json = json;
      entry.expiresAt = expiresAt;
      this.#addRunBytes(entry, bytes - entry.recordBytes);
      entry.recordBytes = bytes;
    } else {
      const tenant = tenantOfRun(run.id);
      const created: RunEntry = { run, events: [], texts: [], frozen: null, json, expiresAt, tenant, recordBytes: 0, logBytes: 0 };
      this.#runs.set(run.id, created);
      this.#space(tenant).runs.set(run.id, created);
      this.#addRunBytes(created, bytes);
      created.recordBytes = bytes;
    }
    this.#evict();
  }

  async getRun(id: string): Promise<RunResult | null> {
    const entry = this.#unexpired(id);
    return entry ? recordOf(entry) : null;
  }

  async listRuns(query: RunListQuery): Promise<RunPage> {
    const now = this.#now();
    // Insertion order is creation order, but records may carry any created_at: sort what passes the filters.
    const found: { ms: number; entry: RunEntry }[] = [];
    for (const entry of this.#runs.values()) {
      if (entry.expiresAt <= now || !matchesRunQuery(entry.run, query)) continue;
      const ms = createdMs(entry.run);
      if (isAfterCursor(ms, entry.run.id, query.cursor)) found.push({ ms, entry });
    }
    found.sort((a, b) => b.ms - a.ms || (a.entry.run.id < b.entry.run.id ? 1 : a.entry.run.id > b.entry.run.id ? -1 : 0));
    const page = found.slice(0, query.limit);
    const last = page.at(-1);
    return { runs: page.map((f) => recordOf(f.entry)), next: found.length > query.limit && last ? { createdMs: last.ms, id: last.entry.run.id } : null };
  }

  async runStatus(id: string): Promise<RunHead | null> {
    const entry = this.#unexpired(id);
    if (!entry) return null;
    return { status: entry.run.status, seq: entry.frozen ? (entry.run as RunHead).seq : (entry.events.at(-1)?.seq ?? 0) };
  }

  /** Synchronous: subscribers have the event when this returns. */
  appendEvent(event: RunEvent): void {
    const entry = this.#runs.get(event.run_id);
    if (entry?.frozen) thaw(entry);
    if (entry) {
      // A full log keeps its milestones (payloads elided past the byte bound); repeatable summaries are dropped.
      const sized = eventText(event);
      const { stored, bytes } = fitEvent(event, { bytes: entry.logBytes, length: entry.events.length }, this.#logLimits(), sized.bytes);
      if (stored) {
        entry.events.push(stored);
        entry.texts.push(stored === event ? sized.text : eventText(stored).text);
        entry.logBytes += bytes;
        this.#addRunBytes(entry, bytes);
      }
      // The run's last event: what the store holds of it is read from now on, never changed.
      if (event.type === 'run_completed') this.#freezeSoon(entry);
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
    const entry = this.#runs.get(runId);
    if (entry?.frozen) return thawed(entry.frozen).events.filter((e) => e.seq > after);
    const events = entry?.events ?? [];
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
    if (this.#freezing) clearImmediate(this.#freezing);
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

  /** A run's entry, or null when unknown or expired (an expired one is dropped). */
  #unexpired(id: string): RunEntry | null {
    const entry = this.#runs.get(id);
    if (!entry) return null;
    if (entry.expiresAt <= this.#now()) {
      this.#dropRun(id, entry);
      return null;
    }
    return entry;
  }

  /**
   * Freezes a finished run after the current turn: its answer (written in a
   * later continuation of the same turn) goes out first. A run read, thawed,
   * dropped or written again meanwhile is checked again when its turn comes.
   */
  #freezeSoon(entry: RunEntry): void {
    this.#toFreeze.push(entry);
    this.#freezing ??= setImmediate(() => this.#freezeDue());
  }

  #freezeDue(): void {
    this.#freezing = null;
    const due = this.#toFreeze;
    this.#toFreeze = [];
    for (const entry of due) {
      const last = entry.events.at(-1);
      const current = this.#runs.get(entry.run.id) === entry;
      if (current && !entry.frozen && last?.type === 'run_completed' && isTerminal(entry.run.status) && entry.recordBytes + entry.logBytes <= FREEZE_MAX_BYTES) freeze(entry);
    }
  }

  #logLimits() {
    return { maxEventLogBytes: this.#limits.maxEventLogBytes ?? Number.POSITIVE_INFINITY, maxEventsPerRun: this.#limits.maxEventsPerRun };
  }

  /**
   * A record's bytes: its JSON, measured once (records are never edited once saved), without serializing the
   * bundle again (`jsonBytes.ts`); an update of the record `held` (`{ ...record, status, … }`) by what changed.
   */
  #sizeOf(value: object, held?: RunEntry): number {
    const json = held ? jsonLengthUpdated(held.run as RunResult, held.recordBytes - ENTRY_OVERHEAD_BYTES, value) : jsonLength(value, true);
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

/**
 * Turns a finished run's record and events into their JSON ({@link Frozen}).
 * The record's JSON is the one it was saved with when the saver had it (the
 * final record is serialized once, as the answer, `RunLifecycle.finish`).
 * What the store counts of the run does not change: the JSON's length of
 * record and events, as while it ran.
 */
function freeze(entry: RunEntry): void {
  const run = entry.run as RunResult;
  const json = entry.json ?? JSON.stringify(run);
  const parts: number[] = [];
  const events = entry.events.map((event, i) => {
    const part = partOf(event, run);
    parts.push(part);
    // The text leaves out the object the event holds as its part; one that is not the record's own is written whole.
    return part !== Part.none || partValue(event) === null ? (entry.texts[i] as string) : JSON.stringify(event);
  });
  const head: RunHead & StoredHead = { id: run.id, status: run.status, tool: run.tool, created_at: run.created_at, seq: entry.events.at(-1)?.seq ?? 0 };
  entry.frozen = { json, events, parts, read: null };
  entry.run = head;
  entry.events = [];
  entry.texts = [];
  entry.json = undefined;
}

/** Which part of `run` (the very object) the event holds in its {@link partMember}, as a {@link Part} code. */
function partOf(event: RunEvent, run: RunResult): number {
  const value = partValue(event);
  const bundle = run.bundle;
  if (value === null) return Part.none;
  if (value === run) return Part.record;
  if (bundle === null) return Part.none;
  if (value === bundle) return Part.bundle;
  if (value === bundle.summary) return Part.summary;
  return bundle.replicates.indexOf(value as (typeof bundle.replicates)[number]);
}

/** Makes a frozen run live again (an event or a record written after its end). */
function thaw(entry: RunEntry): void {
  const frozen = entry.frozen as Frozen;
  const { record, events } = thawed(frozen);
  entry.events = events;
  // A text of Part.none whose event holds an object there is whole: freezing again writes it whole again.
  entry.texts = frozen.events;
  entry.run = record;
  entry.json = frozen.json;
  entry.frozen = null;
}

/** The record of an entry. */
function recordOf(entry: RunEntry): RunResult {
  return entry.frozen ? thawed(entry.frozen).record : (entry.run as RunResult);
}

/**
 * A frozen run parsed: the copy readers still hold, or a new one. Each
 * event's part of the record is put back in its member's place (set, not
 * added: the member keeps its position in the event's JSON).
 */
function thawed(frozen: Frozen): { record: RunResult; events: RunEvent[] } {
  const held = frozen.read?.deref();
  const heldEvents = held && parsedEvents.get(held);
  if (held && heldEvents) return { record: held, events: heldEvents };
  const record = JSON.parse(frozen.json) as RunResult;
  const bundle = record.bundle as NonNullable<RunResult['bundle']>;
  const events = frozen.events.map((text, i) => {
    const event = JSON.parse(text) as RunEvent;
    const part = frozen.parts[i] as number;
    if (part === Part.none) return event;
    const value = part === Part.record ? record : part === Part.bundle ? bundle : part === Part.summary ? bundle.summary : bundle.replicates[part];
    (event as Record<string, unknown>)[partMember(event) as PartMember] = value;
    return event;
  });
  frozen.read = new WeakRef(record);
  parsedEvents.set(record, events);
  return { record, events };
}
