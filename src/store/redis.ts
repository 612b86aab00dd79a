import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RunEvent } from '../schemas/events.ts';
import { isTerminal, type RunResult, type RunStatus } from '../schemas/result.ts';
import { ELIDE_MIN_BYTES, elide, isElidable } from './eventLog.ts';
import { HeldWrites, unavailable } from './heldWrites.ts';
import { connectBoth, quit, redisConnections } from './redisConnection.ts';
import { APPEND_EVENT, CLAIM, COMPLETE, redisKeys, SAVE_RUN, type RedisKeys } from './redisKeys.ts';
import { createdMs, type RunListQuery, type RunPage } from './runList.ts';
import { listRedisRuns } from './redisRunList.ts';
import { RedisRunMemory } from './runMemoryRedis.ts';
import type { IdempotencyClaim, IdempotencyRecord, RunHead, Store, StoreLimits, Unsubscribe } from './types.ts';

/**
 * Unfinished runs still expire after this long (or `runTtlMs` if longer), so
 * the records of a replica that died mid-run do not stay forever.
 */
export const ORPHAN_RUN_TTL_MS = 24 * 60 * 60 * 1000;


export interface RedisStoreOptions {
  /** `redis://[user:pass@]host:port[/db]`. */
  url: string;
  /** Prepended to every key and channel, so several deployments can share a Redis. */
  prefix: string;
  limits: StoreLimits;
  /** TTL for idempotency claims whose own `ttlMs` is not a positive number. */
  idempotencyTtlMs: number;
  logger: Logger;
  /** Bytes of run writes held while Redis is unreachable (default 16 MiB). */
  bufferBytes?: number;
  /** How long a held write is retried before it is dropped (default 5 min). */
  retryMs?: number;
}

interface ChannelEntry {
  listeners: Set<(event: RunEvent) => void>;
  /** Settles when Redis confirmed the SUBSCRIBE; `readEvents` waits on it. */
  ready: Promise<void>;
}

/**
 * Store shared by replicas through Redis. One command connection carries
 * every write, so un-awaited appends of a run reach Redis in call order; one
 * subscriber connection carries all pub/sub for the process.
 *
 * Bounds: run records expire after `runTtlMs` once terminal (unfinished ones
 * after {@link ORPHAN_RUN_TTL_MS} at least), and `maxRuns` is kept by
 * evicting the earliest-expiring terminal run when a new run is saved.
 * `maxIdempotencyKeys` is not enforced: every record carries its TTL, which
 * is what bounds them in Redis.
 *
 * Outages: no command waits in an offline queue; one that gets no answer
 * within {@link COMMAND_TIMEOUT_MS} fails, and callers see 503
 * `unavailable` (retryable, Retry-After). Writes of runs already accepted
 * (events, later records, idempotency results) are not lost to a short
 * outage: they are held in issue order, within `bufferBytes`, and retried
 * until Redis takes them or `retryMs` passes. Accepting a run (its first,
 * `queued` record) is never held: it is stored now or refused.
 */
export { isOutage } from './heldWrites.ts';
export { COMMAND_TIMEOUT_MS } from './redisConnection.ts';
export { redisKeys, type RedisKeys } from './redisKeys.ts';

export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly #client: Redis;
  readonly #sub: Redis;
  readonly #keys: RedisKeys;
  readonly runMemory: RedisRunMemory;
  readonly #limits: StoreLimits;
  readonly #idempotencyTtlMs: number;
  readonly #logger: Logger;
  readonly #channels = new Map<string, ChannelEntry>();
  readonly #cancelListeners = new Set<(runId: string) => void>();
  readonly #held: HeldWrites;
  #closed = false;

  private constructor(client: Redis, sub: Redis, opts: RedisStoreOptions) {
    this.#client = client;
    this.#sub = sub;
    this.#keys = redisKeys(opts.prefix);
    this.runMemory = new RedisRunMemory(client, opts.prefix);
    this.#limits = opts.limits;
    this.#idempotencyTtlMs = opts.idempotencyTtlMs;
    this.#logger = opts.logger;
    this.#held = new HeldWrites(this.#logger, opts.bufferBytes ?? 16 * 1024 * 1024, opts.retryMs ?? 300_000);
    sub.on('message', (channel: string, message: string) => this.#onMessage(channel, message));
    // A SUBSCRIBE that failed during an outage is not in ioredis' resubscribe set: ask again for every channel in use.
    sub.on('ready', () => this.#resubscribe());
  }

  /** Connects both connections and listens for cancellations; rejects within seconds when Redis is unreachable. */
  static async connect(opts: RedisStoreOptions): Promise<RedisStore> {
    const logger = opts.logger.child({ component: 'redis-store' });
    const { client, sub } = redisConnections(opts.url, logger);
    const store = new RedisStore(client, sub, { ...opts, logger });
    await connectBoth(client, sub, opts.url, () => sub.subscribe(store.#keys.cancelChannel));
    return store;
  }

  /** A `queued` record is a run being accepted: stored now or refused (503). Later records of the run are held through outages. */
  async saveRun(run: RunResult, given?: string): Promise<void> {
    const terminal = isTerminal(run.status);
    const ttl = terminal ? this.#limits.runTtlMs : Math.max(this.#limits.runTtlMs, ORPHAN_RUN_TTL_MS);
    const k = this.#keys;
    const json = given ?? JSON.stringify(run);
    const send = () =>
      this.#client.eval(SAVE_RUN, 6, k.run(run.id), k.events(run.id), k.runIndex, k.doneIndex, k.head(run.id), k.createdIndex,
        json, String(toPx(ttl)), run.id, terminal ? '1' : '0', String(this.#limits.maxRuns), k.run(''), k.events(''), run.status, k.head(''), k.eventBytes(''), String(createdMs(run)));
    if (run.status === 'queued') {
      await this.#now(send());
      return;
    }
    return this.#held.write(send, json.length, terminal, run.id);
  }

  /**
   * Walks the creation index newest first, in batches, reading the records
   * of each batch at once and keeping those that match. Looks at no more
   * than {@link LIST_SCAN_LIMIT} index entries per call: a page may then be
   * short, with a cursor to go on from.
   */
  listRuns(query: RunListQuery): Promise<RunPage> {
    return listRedisRuns(this.#client, this.#keys, query);
  }

  async getRun(id: string): Promise<RunResult | null> {
    const raw = await this.#now(this.#client.get(this.#keys.run(id)));
    return raw === null ? null : (JSON.parse(raw) as RunResult);
  }

  async runStatus(id: string): Promise<RunHead | null> {
    // Writes of the run held through an outage are not in Redis yet (it may have come back empty): until they land,
    // the run is still being written, not gone and not ended, whatever Redis holds of it.
    if (this.#held.holds(id)) return { status: 'running', seq: 0 };
    const [status, seq] = await this.#now(this.#client.hmget(this.#keys.head(id), 'status', 'seq'));
    if (status === null || status === undefined) return null;
    return { status: status as RunStatus, seq: Number(seq ?? 0) };
  }

  async appendEvent(event: RunEvent): Promise<void> {
    const id = event.run_id;
    const k = this.#keys;
    const json = JSON.stringify(event);
    // Only a large event has a cut-down form worth sending along; the script picks which one the log keeps.
    const cut = isElidable(event) && json.length >= ELIDE_MIN_BYTES ? elide(event) : event;
    const elided = cut === event || cut === null ? '' : JSON.stringify(cut);
    // Storing and publishing in one script keeps the log and the live feed in the same order.
    const send = () =>
      this.#client.eval(APPEND_EVENT, 4, k.run(id), k.events(id), k.head(id), k.eventBytes(id),
        json, event.type, String(this.#limits.maxEventsPerRun), k.eventChannel(id), String(event.seq), elided, String(this.#limits.maxEventLogBytes ?? Number.MAX_SAFE_INTEGER));
    return this.#held.write(send, json.length, event.type === 'run_completed', id);
  }

  /**
   * Waits for a pending subscription to the run first, so `subscribe` then
   * `readEvents` leaves no gap: whatever the read misses is published after
   * the subscription was live.
   */
  async readEvents(runId: string, after: number): Promise<RunEvent[]> {
    await this.#channels.get(this.#keys.eventChannel(runId))?.ready;
    const key = this.#keys.events(runId);
    // Summaries are only dropped past maxEventsPerRun or MAX_EVENT_LOG_BYTES, so the log is
    // usually dense and the answer starts at index min(after, max) or later; after a drop
    // the sentinel check below falls back to the whole log.
    const start = Math.max(0, Math.min(Math.floor(after), this.#limits.maxEventsPerRun));
    const from = Math.max(0, start - 1);
    const events = (await this.#now(this.#client.lrange(key, from, -1))).map(parseEvent);
    const sentinel = events[0];
    // The entry before `start` proves nothing earlier is wanted; without that proof
    // (logs not numbered from 1, or written under another limit) read the whole log.
    if (from === 0 || (sentinel !== undefined && sentinel.seq <= after)) return events.filter((e) => e.seq > after);
    return (await this.#now(this.#client.lrange(key, 0, -1))).map(parseEvent).filter((e) => e.seq > after);
  }

  /**
   * Live from when Redis confirms the subscription (see `readEvents`). The
   * first listener of a run subscribes its channel, the last one to leave
   * unsubscribes it; all share the store's subscriber connection.
   */
  subscribe(runId: string, listener: (event: RunEvent) => void): Unsubscribe {
    const channel = this.#keys.eventChannel(runId);
    let entry = this.#channels.get(channel);
    if (!entry) {
      // A failed SUBSCRIBE (Redis away) is asked again on reconnect; followers fill the gap from the log.
      const ready = this.#sub.subscribe(channel).then(
        () => undefined,
        (err: unknown) => this.#logger.warn({ err, runId }, 'event subscription failed; retried on reconnect'),
      );
      entry = { listeners: new Set(), ready };
      this.#channels.set(channel, entry);
    }
    const own = entry;
    own.listeners.add(listener);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      own.listeners.delete(listener);
      if (own.listeners.size > 0 || this.#channels.get(channel) !== own) return;
      this.#channels.delete(channel);
      if (this.#closed) return;
      this.#sub.unsubscribe(channel).catch((err: unknown) => this.#logger.warn({ err, runId }, 'event unsubscribe failed'));
    };
  }

  async publishCancel(runId: string): Promise<void> {
    await this.#now(this.#client.publish(this.#keys.cancelChannel, runId));
  }

  onCancel(listener: (runId: string) => void): Unsubscribe {
    this.#cancelListeners.add(listener);
    return () => {
      this.#cancelListeners.delete(listener);
    };
  }

  async claimIdempotency(key: string, record: IdempotencyRecord, ttlMs: number): Promise<IdempotencyClaim> {
    const ttl = ttlMs > 0 ? ttlMs : this.#idempotencyTtlMs;
    const held = (await this.#now(this.#client.eval(CLAIM, 1, this.#keys.idempotency(key), JSON.stringify(record), String(toPx(ttl))))) as string | null;
    return held === null ? { claimed: true } : { claimed: false, record: JSON.parse(held) as IdempotencyRecord };
  }

  async completeIdempotency(key: string, result: RunResult): Promise<void> {
    const redisKey = this.#keys.idempotency(key);
    const send = async () => {
      const raw = await this.#client.get(redisKey);
      if (raw === null) return;
      const record = { ...(JSON.parse(raw) as IdempotencyRecord), result };
      // Compare-and-set: if the key expired and was claimed again meanwhile, the new holder's record stays.
      await this.#client.eval(COMPLETE, 1, redisKey, raw, JSON.stringify(record));
    };
    return this.#held.write(send, 0, true);
  }

  async releaseIdempotency(key: string): Promise<void> {
    await this.#now(this.#client.del(this.#keys.idempotency(key)));
  }

  /** Writes still waiting for Redis (0 when healthy). */
  get heldWrites(): number {
    return this.#held.size;
  }

  async ping(): Promise<void> {
    const reply = await this.#client.ping();
    if (reply !== 'PONG') throw new Error(`unexpected PING reply: ${reply}`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#held.close();
    this.#channels.clear();
    this.#cancelListeners.clear();
    await Promise.all([quit(this.#client), quit(this.#sub)]);
  }

  #onMessage(channel: string, message: string): void {
    if (channel === this.#keys.cancelChannel) {
      for (const listener of this.#cancelListeners) this.#deliver(() => listener(message));
      return;
    }
    const entry = this.#channels.get(channel);
    if (!entry) return;
    let event: RunEvent;
    try {
      event = parseEvent(message);
    } catch (err) {
      this.#logger.error({ err, channel }, 'unreadable event message');
      return;
    }
    for (const listener of entry.listeners) this.#deliver(() => listener(event));
  }

  /** A command a caller waits for: any failure is the store being unreachable (503, retryable). */
  async #now<T>(command: Promise<T>): Promise<T> {
    try {
      return await command;
    } catch (error) {
      throw unavailable(error);
    }
  }

  #resubscribe(): void {
    if (this.#closed || this.#channels.size === 0) return;
    this.#sub.subscribe(...this.#channels.keys()).catch((err: unknown) => this.#logger.warn({ err }, 'resubscribe failed'));
  }

  /** A throwing listener must not starve the others or break the connection's reply parser. */
  #deliver(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.#logger.error({ err }, 'store listener threw');
    }
  }
}

function parseEvent(raw: string): RunEvent {
  return JSON.parse(raw) as RunEvent;
}

/** PX wants a positive integer. */
function toPx(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

