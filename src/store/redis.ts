import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { ServiceError } from '../errors.ts';
import type { RunEvent } from '../schemas/events.ts';
import { isTerminal, type RunResult, type RunStatus } from '../schemas/result.ts';
import { ELIDE_MIN_BYTES, elide, isElidable } from './eventLog.ts';
import { RedisRunMemory } from './runMemoryRedis.ts';
import { createdMs, isAfterCursor, matchesRunQuery, type RunListQuery, type RunPage } from './runList.ts';
import type { IdempotencyClaim, IdempotencyRecord, RunHead, Store, StoreLimits, Unsubscribe } from './types.ts';

/**
 * Unfinished runs still expire after this long (or `runTtlMs` if longer), so
 * the records of a replica that died mid-run do not stay forever.
 */
export const ORPHAN_RUN_TTL_MS = 24 * 60 * 60 * 1000;

/** How long `connect` waits for Redis before giving up. */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * A command unanswered after this long fails (and a request needing it gets
 * 503): a stalled Redis must cost a caller at most this, never a hang. With
 * the rate limiter's own check in front (src/app.ts, 500 ms) a request's
 * answer stays within the contract's 3 s.
 */
export const COMMAND_TIMEOUT_MS = 1500;

/** Retry-After of a 503 caused by an unreachable store. */
const UNAVAILABLE_RETRY_AFTER_MS = 2000;

/** Expired index entries forgotten per save: enough to keep up, small enough to keep a save O(log n). */
const INDEX_SWEEP_BATCH = 64;

/** Index entries read per round trip of `listRuns`. */
const LIST_BATCH = 200;

/** Index entries `listRuns` looks at per call at most (other tenants' runs included). */
const LIST_SCAN_LIMIT = 5000;

/** Runs evicted per save at most, so lowering `maxRuns` never makes one save slow. */
const EVICT_BATCH = 16;

/** Names of everything the Redis store keeps under one prefix. */
export interface RedisKeys {
  /** JSON run record. */
  run(id: string): string;
  /** List of the run's JSON events, in `seq` order. */
  events(id: string): string;
  /** Bytes of the run's stored events (MAX_EVENT_LOG_BYTES). */
  eventBytes(id: string): string;
  /** Hash `{status, seq}`: the run's status and highest appended seq, for followers and the append guard. */
  head(id: string): string;
  /** Sorted set of every live run id, scored by when its record expires. */
  readonly runIndex: string;
  /** Sorted set of terminal run ids, scored the same way: eviction candidates. */
  readonly doneIndex: string;
  /** Sorted set of every live run id, scored by its creation time (ms): the order of `listRuns`. */
  readonly createdIndex: string;
  /** JSON idempotency record. */
  idempotency(key: string): string;
  /** Pub/sub channel carrying a run's events. */
  eventChannel(id: string): string;
  /** Pub/sub channel carrying run ids whose cancellation was asked. */
  readonly cancelChannel: string;
}

/** The key layout for `prefix`; exported so tests and operators can find the data. */
export function redisKeys(prefix: string): RedisKeys {
  return {
    run: (id) => `${prefix}run:${id}`,
    events: (id) => `${prefix}events:${id}`,
    eventBytes: (id) => `${prefix}evbytes:${id}`,
    head: (id) => `${prefix}head:${id}`,
    runIndex: `${prefix}runs`,
    doneIndex: `${prefix}runs:done`,
    createdIndex: `${prefix}runs:created`,
    idempotency: (key) => `${prefix}idem:${key}`,
    eventChannel: (id) => `${prefix}ch:events:${id}`,
    cancelChannel: `${prefix}ch:cancel`,
  };
}

// Scripts go out with EVAL, not EVALSHA: ioredis retries a NOSCRIPT miss as a
// later EVAL, which would let subsequent appends overtake it. Redis caches the
// compiled body either way. Evicted keys are built from the prefix, so the
// store needs one Redis node (not Cluster).

/** KEYS: run, events, runIndex, doneIndex, head, createdIndex. ARGV: json, ttlMs, id, terminal, maxRuns, runKeyPrefix, eventsKeyPrefix, status, headKeyPrefix, eventBytesKeyPrefix, createdMs. */
const SAVE_RUN = `
local existed = redis.call('EXISTS', KEYS[1])
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('HSET', KEYS[5], 'status', ARGV[8])
redis.call('PEXPIRE', KEYS[5], ttl)
redis.call('PEXPIRE', ARGV[10] .. ARGV[3], ttl)
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[3], now + ttl, ARGV[3])
if ARGV[4] == '1' then redis.call('ZADD', KEYS[4], now + ttl, ARGV[3]) end
redis.call('ZADD', KEYS[6], 'NX', tonumber(ARGV[11]), ARGV[3])
local stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, ${INDEX_SWEEP_BATCH})
if #stale > 0 then
  redis.call('ZREM', KEYS[3], unpack(stale))
  redis.call('ZREM', KEYS[4], unpack(stale))
  redis.call('ZREM', KEYS[6], unpack(stale))
end
if existed == 1 then return 0 end
local excess = math.min(redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[5]), ${EVICT_BATCH})
local evicted = 0
while evicted < excess do
  local oldest = redis.call('ZRANGE', KEYS[4], 0, 0)
  local victim = oldest[1]
  if not victim then break end
  redis.call('DEL', ARGV[6] .. victim, ARGV[7] .. victim, ARGV[9] .. victim, ARGV[10] .. victim)
  redis.call('ZREM', KEYS[3], victim)
  redis.call('ZREM', KEYS[4], victim)
  redis.call('ZREM', KEYS[6], victim)
  evicted = evicted + 1
end
return evicted
`;

/**
 * KEYS: run, events, head, eventBytes. ARGV: json, type, maxEventsPerRun, channel, seq, elided json ('' when
 * the event is stored whole whatever the log holds), maxEventLogBytes. The log's bytes are counted beside it
 * (eventLog.ts has the rule: past the bound summaries are dropped and large payloads elided); subscribers get
 * `json` whole. An event at or below the run's head seq is a retry of a write that did land (a command that
 * timed out while Redis was stalled still runs once Redis wakes): it is neither stored nor published again.
 */
const APPEND_EVENT = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  local head = tonumber(redis.call('HGET', KEYS[3], 'seq') or '0')
  if tonumber(ARGV[5]) <= head then return 0 end
  redis.call('HSET', KEYS[3], 'seq', ARGV[5])
  local len = redis.call('LLEN', KEYS[2])
  local bytes = tonumber(redis.call('GET', KEYS[4]) or '0')
  local fits = bytes + #ARGV[1] <= tonumber(ARGV[7])
  local stored = nil
  if ARGV[2] == 'partial_summary' then
    if fits and len < tonumber(ARGV[3]) then stored = ARGV[1] end
  elseif fits or ARGV[6] == '' then
    stored = ARGV[1]
  else
    stored = ARGV[6]
  end
  if stored then
    redis.call('RPUSH', KEYS[2], stored)
    redis.call('INCRBY', KEYS[4], #stored)
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then
      redis.call('PEXPIRE', KEYS[4], ttl)
      if len == 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
    end
  end
end
redis.call('PUBLISH', ARGV[4], ARGV[1])
return 1
`;

/** KEYS: record. ARGV: json, ttlMs. Nil when claimed, else the holder's record. */
const CLAIM = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])
`;

/** KEYS: record. ARGV: expected json, new json. Compare-and-set keeping the TTL. */
const COMPLETE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'XX', 'KEEPTTL')
  return 1
end
return 0
`;

/** What `RedisStore.connect` needs. */
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

/** A write of an accepted run, held in order until Redis takes it. */
interface HeldWrite {
  order: number;
  bytes: number;
  /** Final records, `run_completed` and idempotency results are kept whatever the byte bound says. */
  essential: boolean;
  since: number;
  send: () => Promise<unknown>;
  resolve: () => void;
  reject: (error: unknown) => void;
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
  readonly #bufferBytes: number;
  readonly #retryMs: number;
  /** Writes waiting for Redis, in issue order; while any wait, new writes queue behind them. */
  readonly #held: HeldWrite[] = [];
  #heldBytes = 0;
  #writeOrder = 0;
  #flushing = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(client: Redis, sub: Redis, opts: RedisStoreOptions) {
    this.#client = client;
    this.#sub = sub;
    this.#keys = redisKeys(opts.prefix);
    this.runMemory = new RedisRunMemory(client, opts.prefix);
    this.#limits = opts.limits;
    this.#idempotencyTtlMs = opts.idempotencyTtlMs;
    this.#logger = opts.logger;
    this.#bufferBytes = opts.bufferBytes ?? 16 * 1024 * 1024;
    this.#retryMs = opts.retryMs ?? 300_000;
    sub.on('message', (channel: string, message: string) => this.#onMessage(channel, message));
    // A SUBSCRIBE that failed during an outage is not in ioredis' resubscribe set: ask again for every channel in use.
    sub.on('ready', () => this.#resubscribe());
  }

  /** Connects both connections and listens for cancellations; rejects within seconds when Redis is unreachable. */
  static async connect(opts: RedisStoreOptions): Promise<RedisStore> {
    const logger = opts.logger.child({ component: 'redis-store' });
    const options: RedisOptions = {
      lazyConnect: true,
      connectTimeout: 3000,
      // Replies slower than this mean Redis is in trouble; fail the caller instead of hanging it.
      commandTimeout: COMMAND_TIMEOUT_MS,
      // No offline queue: while disconnected a command fails at once (503 to the caller);
      // the writes of accepted runs are held by the store itself, bounded (see #write).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Keep reconnecting, at least once a second, for as long as Redis is away.
      retryStrategy: (times) => Math.min(times * 100, 1000),
    };
    const client = new Redis(opts.url, options);
    const sub = client.duplicate();
    // Without an error listener ioredis prints to the console on every failed reconnect.
    client.on('error', (err: Error) => logger.warn({ err }, 'redis connection error'));
    sub.on('error', (err: Error) => logger.warn({ err }, 'redis subscriber connection error'));
    const store = new RedisStore(client, sub, { ...opts, logger });
    try {
      await withTimeout(
        (async () => {
          await Promise.all([client.connect(), sub.connect()]);
          await sub.subscribe(store.#keys.cancelChannel);
        })(),
        CONNECT_TIMEOUT_MS,
      );
    } catch (error) {
      // connect() rejects on the first failure but keeps reconnecting in the background.
      client.disconnect();
      sub.disconnect();
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`Redis unreachable at ${redactUrl(opts.url)}: ${reason}`, { cause: error });
    }
    return store;
  }

  /** A `queued` record is a run being accepted: stored now or refused (503). Later records of the run are held through outages. */
  async saveRun(run: RunResult): Promise<void> {
    const terminal = isTerminal(run.status);
    const ttl = terminal ? this.#limits.runTtlMs : Math.max(this.#limits.runTtlMs, ORPHAN_RUN_TTL_MS);
    const k = this.#keys;
    const json = JSON.stringify(run);
    const send = () =>
      this.#client.eval(SAVE_RUN, 6, k.run(run.id), k.events(run.id), k.runIndex, k.doneIndex, k.head(run.id), k.createdIndex,
        json, String(toPx(ttl)), run.id, terminal ? '1' : '0', String(this.#limits.maxRuns), k.run(''), k.events(''), run.status, k.head(''), k.eventBytes(''), String(createdMs(run)));
    if (run.status === 'queued') {
      await this.#now(send());
      return;
    }
    return this.#write(send, json.length, terminal);
  }

  /**
   * Walks the creation index newest first, in batches, reading the records
   * of each batch at once and keeping those that match. Looks at no more
   * than {@link LIST_SCAN_LIMIT} index entries per call: a page may then be
   * short, with a cursor to go on from.
   */
  async listRuns(query: RunListQuery): Promise<RunPage> {
    const k = this.#keys;
    const found: RunResult[] = [];
    let position = query.cursor;
    let scanned = 0;
    while (scanned < LIST_SCAN_LIMIT) {
      const max = position ? String(position.createdMs) : '+inf';
      // Ties at the cursor's millisecond come back too; the ones already passed are skipped below.
      const raw = await this.#client.zrevrangebyscore(k.createdIndex, max, '-inf', 'WITHSCORES', 'LIMIT', 0, LIST_BATCH);
      const entries: { id: string; ms: number }[] = [];
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const id = raw[i] as string;
        const ms = Number(raw[i + 1]);
        if (isAfterCursor(ms, id, position)) entries.push({ id, ms });
      }
      if (entries.length === 0) return { runs: found, next: null };
      const records = await this.#client.mget(entries.map((e) => k.run(e.id)));
      for (const [i, entry] of entries.entries()) {
        scanned++;
        position = { createdMs: entry.ms, id: entry.id };
        const text = records[i];
        if (text === null || text === undefined) continue;
        const run = JSON.parse(text) as RunResult;
        if (!matchesRunQuery(run, query)) continue;
        found.push(run);
        if (found.length === query.limit) return { runs: found, next: position };
      }
      if (raw.length < LIST_BATCH * 2) return { runs: found, next: null };
    }
    return { runs: found, next: position ?? null };
  }

  async getRun(id: string): Promise<RunResult | null> {
    const raw = await this.#now(this.#client.get(this.#keys.run(id)));
    return raw === null ? null : (JSON.parse(raw) as RunResult);
  }

  async runStatus(id: string): Promise<RunHead | null> {
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
    return this.#write(send, json.length, event.type === 'run_completed');
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
    return this.#write(send, 0, true);
  }

  async releaseIdempotency(key: string): Promise<void> {
    await this.#now(this.#client.del(this.#keys.idempotency(key)));
  }

  /** Writes still waiting for Redis (0 when healthy). */
  get heldWrites(): number {
    return this.#held.length;
  }

  async ping(): Promise<void> {
    const reply = await this.#client.ping();
    if (reply !== 'PONG') throw new Error(`unexpected PING reply: ${reply}`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#flushTimer);
    for (const write of this.#held.splice(0)) write.reject(unavailable(new Error('store closed')));
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

  /**
   * A write of an accepted run. Sent at once while nothing is held (the hot
   * path: pipelined on the one connection, in call order); if Redis cannot
   * take it, it is held with every later write behind it, in issue order,
   * and retried until it lands.
   */
  #write(send: () => Promise<unknown>, bytes: number, essential: boolean): Promise<void> {
    const order = ++this.#writeOrder;
    if (this.#held.length > 0) return this.#hold({ order, bytes, essential, send });
    return send().then(
      () => undefined,
      (error: unknown) => {
        if (!isOutage(error) || this.#closed) throw unavailable(error);
        return this.#hold({ order, bytes, essential, send });
      },
    );
  }

  #hold(write: Pick<HeldWrite, 'order' | 'bytes' | 'essential' | 'send'>): Promise<void> {
    if (!write.essential && this.#heldBytes + write.bytes > this.#bufferBytes) {
      this.#logger.error({ held: this.#held.length, bytes: this.#heldBytes }, 'redis unreachable and the write buffer is full: an event is dropped');
      return Promise.reject(unavailable(new Error('write buffer full')));
    }
    return new Promise<void>((resolve, reject) => {
      const held: HeldWrite = { ...write, since: Date.now(), resolve, reject };
      // Writes that failed together come back in any order: keep the order they were issued in.
      let at = this.#held.length;
      while (at > 0 && (this.#held[at - 1] as HeldWrite).order > held.order) at--;
      this.#held.splice(at, 0, held);
      this.#heldBytes += held.bytes;
      if (this.#held.length === 1) this.#logger.warn('redis unreachable: holding run writes until it is back');
      this.#scheduleFlush(0);
    });
  }

  #scheduleFlush(delayMs: number): void {
    if (this.#flushing || this.#closed) return;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = setTimeout(() => void this.#flush(delayMs), delayMs);
  }

  /** Sends held writes one at a time, oldest first; backs off (up to 1 s) while Redis is away. */
  async #flush(lastDelay: number): Promise<void> {
    this.#flushing = true;
    let delay = lastDelay;
    try {
      while (this.#held.length > 0 && !this.#closed) {
        const head = this.#held[0] as HeldWrite;
        try {
          await head.send();
        } catch (error) {
          if (isOutage(error) && Date.now() - head.since < this.#retryMs) {
            delay = Math.min(Math.max(delay * 2, 100), 1000);
            return;
          }
          this.#held.shift();
          this.#heldBytes -= head.bytes;
          this.#logger.error({ err: error }, 'a held run write could not be stored and is dropped');
          head.reject(unavailable(error));
          continue;
        }
        this.#held.shift();
        this.#heldBytes -= head.bytes;
        head.resolve();
        if (this.#held.length === 0) this.#logger.info('redis reachable again: held run writes stored');
      }
    } finally {
      this.#flushing = false;
      if (this.#held.length > 0 && !this.#closed) this.#scheduleFlush(delay);
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

/** The 503 a caller gets while Redis cannot answer. */
function unavailable(cause: unknown): ServiceError {
  if (cause instanceof ServiceError) return cause;
  return new ServiceError('unavailable', 'the run store (Redis) is unreachable; retry shortly', { cause, retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS });
}

/**
 * Whether a failed command may succeed later: connection loss, timeouts,
 * and Redis' own transient refusals. A script or syntax error ("ERR …")
 * would fail again and is not retried.
 */
export function isOutage(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name !== 'ReplyError') return true;
  return /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|OOM|NOREPLICAS)\b/.test(error.message);
}

function parseEvent(raw: string): RunEvent {
  return JSON.parse(raw) as RunEvent;
}

/** PX wants a positive integer. */
function toPx(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

async function quit(connection: Redis): Promise<void> {
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no connection within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The URL for error messages, without its password. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<invalid url>';
  }
}
