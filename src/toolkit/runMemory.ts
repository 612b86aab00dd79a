import type { Logger } from 'pino';
import { ServiceError } from '../errors.ts';
import { MEMORY_KEY, type MemoryReport } from '../schemas/memory.ts';
import type { RunInput } from '../schemas/request.ts';
import type { PlannerDecision, RunResult } from '../schemas/result.ts';
import { entryBytes, type MemoryPut, type RunMemoryStore } from '../store/runMemory.ts';
import type { MemorySetOptions, ToolMemory } from './api.ts';

/** Bounds of every run's memory (config MEMORY_MAX_BYTES, MEMORY_MAX_ENTRIES, MEMORY_TTL_GRACE_MS). */
export interface MemoryLimits {
  maxBytes: number;
  maxEntries: number;
  /** The memory expires this long after the run's deadline. */
  graceMs: number;
}

/** The config's defaults, for orchestrators built without memory limits (tests). */
export const DEFAULT_MEMORY_LIMITS: MemoryLimits = { maxBytes: 1_048_576, maxEntries: 256, graceMs: 60_000 };

/** Until `begin` says when the run must end, writes expire after this (the longest MAX_TIMEOUT_MS allows). */
const UNKNOWN_DEADLINE_TTL_MS = 3_600_000;

/**
 * The `partial` entry of a partial summary: the summary without its
 * pairwise matrix (n² numbers, in the bundle already), and how many of the
 * requested replicates it covers.
 */
export function partialEntry(summary: { pairwise_distances?: unknown }, completed: number, requested: number): unknown {
  const { pairwise_distances: _matrix, ...rest } = summary;
  return { summary: rest, completed, requested };
}

/** Keys only the service writes. */
const SERVICE_KEYS = new Set(['input', 'planner']);

/**
 * One run's memory, owned by the run's executor: every write goes through
 * the store within the run's bounds and TTL, and {@link RunMemory.end}
 * waits for them, then drops everything the store holds for the run. After
 * `end` nothing more is written (a late write is refused here, never
 * re-creating the run's keys). The service's own observations wait until the
 * memory is first used (`#deferred`).
 */
export class RunMemory {
  readonly #store: RunMemoryStore;
  readonly #runId: string;
  readonly #limits: MemoryLimits;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #trimmed = new Set<string>();
  readonly #refused = new Set<string>();
  /** Observation keys already warned about: a refused partial summary is logged once, not at every summary. */
  readonly #warned = new Set<string>();
  #expiresAt: number | undefined;
  #kept: { summary: unknown } | undefined;
  #ended = false;
  /**
   * The service's observations (input, planner, partial summaries, the
   * synthesis), held here until the memory is first used: the first read,
   * write or kept summary writes them, in order, before it goes on. A run
   * whose tool never uses its memory (the bundle tool) writes none, and its
   * end has nothing to wait for; null once they are written.
   */
  #deferred: Map<string, unknown> | null = new Map();

  constructor(store: RunMemoryStore, runId: string, limits: MemoryLimits | undefined, log: Logger, now: () => number = Date.now) {
    this.#store = store;
    this.#runId = runId;
    this.#limits = limits ?? DEFAULT_MEMORY_LIMITS;
    this.#log = log;
    this.#now = now;
  }

  /** The run starts executing: its memory lives until `deadline` (+ grace) and holds its input and the planner's decision. */
  begin(deadline: number, input: RunInput, planner: PlannerDecision): void {
    this.#expiresAt = deadline + this.#limits.graceMs;
    this.#record('input', input);
    this.#record('planner', planner);
  }

  /** The view a tool gets; `step` is its label when it runs as a composite's step. */
  view(step?: string): ToolMemory {
    const own = step === undefined ? { partial: 'partial', synthesis: 'synthesis' } : { partial: `partial.${step}`, synthesis: `synthesis.${step}` };
    const prefix = step === undefined ? '' : `${step}/`;
    return {
      get: (key) => this.#get(key),
      entries: () => this.#entries(),
      set: (key, value, options) => {
        if (SERVICE_KEYS.has(key)) return Promise.reject(new ServiceError('invalid_request', `run memory: "${key}" is written by the service only`));
        return this.#set(key, value, options ?? {});
      },
      record: (key, value) => this.#record(key, value),
      stepKey: (label) => `step.${prefix}${label}`,
      ownKeys: own,
      keep: (summary) => this.#keep(summary),
    };
  }

  /**
   * The run has ended: waits for its writes, builds the report the tool
   * asked to keep (attached to `final` as `memory`), drops the memory.
   * Never throws: a drop that fails is logged, and the TTL removes the rest.
   */
  async end(final: RunResult): Promise<RunResult> {
    // A kept summary's report lists the entries: the held observations are among them.
    if (this.#kept) this.#goLive();
    this.#ended = true;
    if (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    let report: MemoryReport | undefined;
    try {
      if (this.#kept) report = await this.#report(this.#kept.summary);
    } catch (error) {
      this.#log.warn({ err: error }, 'run memory could not be read for the kept summary');
    }
    try {
      await this.#store.drop(this.#runId);
    } catch (error) {
      this.#log.warn({ err: error, expires_in_ms: this.#ttlMs() }, 'run memory could not be dropped; it expires with the run');
    }
    return report ? { ...final, memory: report } : final;
  }

  async #report(summary: unknown): Promise<MemoryReport> {
    const held = await this.#store.entries(this.#runId);
    const entries = Object.entries(held).map(([key, json]) => ({ key, bytes: entryBytes(key, json) }));
    return {
      summary,
      entries,
      bytes: entries.reduce((n, e) => n + e.bytes, 0),
      trimmed: [...this.#trimmed],
      refused: [...this.#refused],
    };
  }

  /** Writes the held observations: the memory is in use from now on. */
  #goLive(): void {
    const deferred = this.#deferred;
    if (deferred === null) return;
    this.#deferred = null;
    for (const [key, value] of deferred) this.#write(key, value);
  }

  async #get(key: string): Promise<unknown> {
    this.#goLive();
    const json = await this.#store.get(this.#runId, key);
    return json === null ? undefined : (JSON.parse(json) as unknown);
  }

  async #entries(): Promise<Record<string, unknown>> {
    this.#goLive();
    const held = await this.#store.entries(this.#runId);
    return Object.fromEntries(Object.entries(held).map(([key, json]) => [key, JSON.parse(json) as unknown]));
  }

  #keep(summary: unknown): void {
    const json = toJson(summary, 'the kept summary');
    if (Buffer.byteLength(json) > this.#limits.maxBytes) {
      throw new ServiceError('invalid_request', `run memory: the kept summary is ${Buffer.byteLength(json)} bytes, more than MEMORY_MAX_BYTES (${this.#limits.maxBytes})`, {
        details: { limit: 'MEMORY_MAX_BYTES' },
      });
    }
    this.#kept = { summary: JSON.parse(json) as unknown };
  }

  /** Writes the value, or the first trimmed form that fits; throws when none does. */
  async #set(key: string, value: unknown, options: MemorySetOptions): Promise<void> {
    checkKey(key);
    this.#goLive();
    if (this.#ended) throw new ServiceError('invalid_request', `run memory: "${key}" not written: the run has ended and its memory is dropped`);
    const forms = [value, ...(options.trimmed ?? [])];
    let last: MemoryPut | undefined;
    for (const [i, form] of forms.entries()) {
      const json = toJson(form, `run memory "${key}"`);
      const put = await this.#put(key, json);
      if (put === null) throw new ServiceError('invalid_request', `run memory: "${key}" not written: the run has ended and its memory is dropped`);
      last = put;
      if (last.stored) {
        if (i > 0) {
          this.#trimmed.add(key);
          this.#log.warn({ key, bytes: Buffer.byteLength(json), whole_bytes: Buffer.byteLength(toJson(value, key)), limit: 'MEMORY_MAX_BYTES' }, 'run memory: value over the bound, stored trimmed');
        }
        return;
      }
      if (last.limit === 'entries') break;
    }
    throw this.#refusal(key, last as Extract<MemoryPut, { stored: false }>, toJson(forms.at(-1), key));
  }

  #record(key: string, value: unknown): void {
    if (this.#deferred === null) return this.#write(key, value);
    // Held until the memory is used (the latest value of a key, at the key's first place).
    if (!this.#ended) this.#deferred.set(key, value);
  }

  #write(key: string, value: unknown): void {
    let json: string;
    try {
      checkKey(key);
      json = toJson(value, `run memory "${key}"`);
    } catch (error) {
      this.#log.warn({ err: error, key }, 'run memory: observation not recorded');
      return;
    }
    this.#put(key, json).then(
      (put) => {
        // null: the run ended before this write; nothing is written after the end, by design.
        if (put === null || put.stored) return;
        const err = this.#refusal(key, put, json);
        if (!this.#warned.has(key)) this.#log.warn({ key, err }, 'run memory: observation not recorded');
        this.#warned.add(key);
      },
      (error: unknown) => this.#log.warn({ err: error, key }, 'run memory: observation not recorded'),
    );
  }

  /** Every write is tracked, so `end` drops only after the last one landed. */
  #put(key: string, json: string): Promise<MemoryPut | null> {
    if (this.#ended) return Promise.resolve(null);
    const write = this.#store.put(this.#runId, key, json, { maxBytes: this.#limits.maxBytes, maxEntries: this.#limits.maxEntries, ttlMs: this.#ttlMs() });
    this.#pending.add(write);
    const forget = () => this.#pending.delete(write);
    write.then(forget, forget);
    return write;
  }

  #ttlMs(): number {
    return this.#expiresAt === undefined ? UNKNOWN_DEADLINE_TTL_MS : Math.max(1000, this.#expiresAt - this.#now());
  }

  #refusal(key: string, put: Extract<MemoryPut, { stored: false }>, json: string): ServiceError {
    this.#refused.add(key);
    const message =
      put.limit === 'entries'
        ? `run memory: "${key}" refused: the run's memory holds ${put.entries} entries, MEMORY_MAX_ENTRIES is ${this.#limits.maxEntries}`
        : `run memory: "${key}" refused: ${entryBytes(key, json)} bytes on top of the ${put.bytes} held would pass MEMORY_MAX_BYTES (${this.#limits.maxBytes})`;
    return new ServiceError('invalid_request', message, { details: { limit: put.limit === 'entries' ? 'MEMORY_MAX_ENTRIES' : 'MEMORY_MAX_BYTES', key } });
  }
}

function checkKey(key: string): void {
  if (!MEMORY_KEY.test(key)) {
    throw new ServiceError('invalid_request', `run memory: bad key "${key.slice(0, 200)}" (input, planner, partial[.<step>], synthesis[.<step>], step.<label> or note.<name>)`);
  }
}

function toJson(value: unknown, what: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new ServiceError('invalid_request', `${what} is not JSON: ${String(error)}`);
  }
  if (json === undefined) throw new ServiceError('invalid_request', `${what} is not JSON (undefined or a function)`);
  return json;
}
