import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { StartupError } from '../errors.ts';

/** How long `connect` waits for Redis before giving up. */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * A command unanswered after this long fails (and a request needing it gets
 * 503): a stalled Redis must cost a caller at most this, never a hang. With
 * the rate limiter's own check in front (src/app.ts, 500 ms) a request's
 * answer stays within the contract's 3 s.
 */
export const COMMAND_TIMEOUT_MS = 1500;

/** The store's two connections (commands, pub/sub), not yet connected. */
export function redisConnections(url: string, logger: Logger): { client: Redis; sub: Redis } {
  const options: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 3000,
    // Replies slower than this mean Redis is in trouble; fail the caller instead of hanging it.
    commandTimeout: COMMAND_TIMEOUT_MS,
    // No offline queue: while disconnected a command fails at once (503 to the caller);
    // the writes of accepted runs are held by the store itself, bounded (see HeldWrites).
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Keep reconnecting, at least once a second, for as long as Redis is away.
    retryStrategy: (times) => Math.min(times * 100, 1000),
  };
  const client = new Redis(url, options);
  const sub = client.duplicate();
  // Without an error listener ioredis prints to the console on every failed reconnect.
  client.on('error', (err: Error) => logger.warn({ err }, 'redis connection error'));
  sub.on('error', (err: Error) => logger.warn({ err }, 'redis subscriber connection error'));
  return { client, sub };
}

/** Connects both, then runs `ready`; rejects within {@link CONNECT_TIMEOUT_MS} when Redis is unreachable. */
export async function connectBoth(client: Redis, sub: Redis, url: string, ready: () => Promise<unknown>): Promise<void> {
  try {
    await withTimeout(
      (async () => {
        await Promise.all([client.connect(), sub.connect()]);
        await ready();
      })(),
      CONNECT_TIMEOUT_MS,
    );
  } catch (error) {
    // connect() rejects on the first failure but keeps reconnecting in the background.
    client.disconnect();
    sub.disconnect();
    const reason = error instanceof Error ? error.message : String(error);
    throw new StartupError('store_unreachable', `Redis unreachable at ${redactUrl(url)}: ${reason}`, { cause: error });
  }
}

export async function quit(connection: Redis): Promise<void> {
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
