import { Redis } from 'ioredis';

/** The Redis the tests use (the machine's, unless REDIS_URL says otherwise). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether that Redis answers a PING within about a second. */
export async function redisUp(url = REDIS_URL): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Under CI, Redis is part of the environment: Redis tests run there (and fail if it is down), never skip. */
export const skipWithoutRedis = process.env.CI !== 'true' && !(await redisUp());
