import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { MemoryStore } from './memory.ts';
import type { Store, StoreLimits } from './types.ts';

/** Store limits from config. */
export function storeLimits(config: Config): StoreLimits {
  return {
    runTtlMs: config.RUN_TTL_MS,
    maxRuns: config.MAX_RUNS,
    maxEventsPerRun: config.MAX_EVENTS_PER_RUN,
    maxIdempotencyKeys: config.MAX_IDEMPOTENCY_KEYS,
    maxEventLogBytes: config.MAX_EVENT_LOG_BYTES,
    maxStoreBytes: config.MAX_STORE_BYTES,
    maxIdempotencyKeysPerTenant: config.MAX_IDEMPOTENCY_KEYS_PER_TENANT,
  };
}

/** The store STORE names: memory for one process, redis for many replicas. */
export async function createStore(config: Config, logger: Logger): Promise<Store> {
  if (config.STORE === 'redis') {
    const { RedisStore } = await import('./redis.ts');
    return RedisStore.connect({
      url: config.REDIS_URL,
      prefix: config.REDIS_PREFIX,
      limits: storeLimits(config),
      idempotencyTtlMs: config.IDEMPOTENCY_TTL_MS,
      logger,
      bufferBytes: config.STORE_BUFFER_BYTES,
      retryMs: config.STORE_RETRY_MS,
    });
  }
  return new MemoryStore(storeLimits(config));
}
