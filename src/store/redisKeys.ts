/** Key names and Lua scripts of the Redis store (src/store/redis.ts). */

/** Expired index entries forgotten per save: enough to keep up, small enough to keep a save O(log n). */
const INDEX_SWEEP_BATCH = 64;

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
export const SAVE_RUN = `
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
export const APPEND_EVENT = `
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
export const CLAIM = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])
`;

/** KEYS: record. ARGV: expected json, new json. Compare-and-set keeping the TTL. */
export const COMPLETE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'XX', 'KEEPTTL')
  return 1
end
return 0
`;

/** What `RedisStore.connect` needs. */
