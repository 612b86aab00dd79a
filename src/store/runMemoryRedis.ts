import type { Redis } from 'ioredis';
import { ServiceError } from '../errors.ts';
import type { MemoryBounds, MemoryPut, RunMemoryStore } from './runMemory.ts';

/** The hash field holding the run's byte count; `#` is not allowed in entry keys, so it cannot collide. */
const BYTES_FIELD = '#bytes';

/** The one key a run's memory occupies: a hash of entry key → JSON text, plus {@link BYTES_FIELD}. */
export function runMemoryKey(prefix: string, runId: string): string {
  return `${prefix}mem:${runId}`;
}

/**
 * KEYS: the run's memory hash. ARGV: key, json, maxBytes, maxEntries, ttlMs.
 * Answers {stored (1|0), limit ('' | 'bytes' | 'entries'), bytes, entries}.
 * Lua's `#` counts bytes, as `entryBytes` does.
 */
const PUT = `
local bytes = tonumber(redis.call('HGET', KEYS[1], '${BYTES_FIELD}') or '0')
local count = redis.call('HLEN', KEYS[1])
if count > 0 then count = count - 1 end
local old = redis.call('HGET', KEYS[1], ARGV[1])
local after = bytes + #ARGV[1] + #ARGV[2]
if old then
  after = after - #ARGV[1] - #old
else
  if count + 1 > tonumber(ARGV[4]) then return {0, 'entries', bytes, count} end
  count = count + 1
end
if after > tonumber(ARGV[3]) then
  if not old then count = count - 1 end
  return {0, 'bytes', bytes, count}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], '${BYTES_FIELD}', after)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {1, '', after, count}
`;

/**
 * Run memory in Redis: one hash per run (`<prefix>mem:<run id>`) that expires
 * with the run (`PEXPIRE` on every write) and is deleted when the run ends.
 * Commands go on the store's command connection; a failure is the store
 * being unreachable (503 `unavailable`, retryable).
 */
export class RedisRunMemory implements RunMemoryStore {
  readonly #client: Redis;
  readonly #prefix: string;

  constructor(client: Redis, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  async put(runId: string, key: string, json: string, bounds: MemoryBounds): Promise<MemoryPut> {
    const reply = (await reach(
      this.#client.eval(PUT, 1, runMemoryKey(this.#prefix, runId), key, json, String(bounds.maxBytes), String(bounds.maxEntries), String(Math.max(1, Math.ceil(bounds.ttlMs)))),
    )) as [number, string, number, number];
    const [stored, limit, bytes, entries] = reply;
    return stored === 1 ? { stored: true, bytes, entries } : { stored: false, limit: limit === 'entries' ? 'entries' : 'bytes', bytes, entries };
  }

  async get(runId: string, key: string): Promise<string | null> {
    if (key === BYTES_FIELD) return null;
    return reach(this.#client.hget(runMemoryKey(this.#prefix, runId), key));
  }

  async entries(runId: string): Promise<Record<string, string>> {
    const all = await reach(this.#client.hgetall(runMemoryKey(this.#prefix, runId)));
    delete all[BYTES_FIELD];
    return all;
  }

  async drop(runId: string): Promise<void> {
    await reach(this.#client.del(runMemoryKey(this.#prefix, runId)));
  }
}

async function reach<T>(command: Promise<T>): Promise<T> {
  try {
    return await command;
  } catch (error) {
    throw new ServiceError('unavailable', 'the run store (Redis) is unreachable; retry shortly', { cause: error, retryAfterMs: 2000 });
  }
}
