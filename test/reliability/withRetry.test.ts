import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ServiceError } from '../../src/errors.ts';
import { withRetry, type RetryPolicy } from '../../src/reliability/retry.ts';

/*
 * The retry loop's waits on fake timers: the test moves time to either side
 * of each wait instead of sleeping through it, so the exact wait is asserted
 * and the file takes no real time.
 */
const policy: RetryPolicy = { maxAttempts: 3, baseMs: 1000, maxDelayMs: 10_000, maxTotalMs: 60_000 };
const rateLimited = (retryAfterMs: number): ServiceError => new ServiceError('rate_limited', 'slow down', { retryable: true, retryAfterMs });

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('withRetry on fake timers', () => {
  it('waits exactly the Retry-After floor before the next attempt', async () => {
    let calls = 0;
    const attempt = vi.fn(async () => {
      calls++;
      if (calls === 1) throw new Error('429');
      return 'ok';
    });
    // random 0: the jittered delay is 0, so Retry-After (1500 ms) is the whole wait.
    const result = withRetry(attempt, { policy, signal: new AbortController().signal, classify: () => rateLimited(1500), random: () => 0 });
    await vi.advanceTimersByTimeAsync(1499);
    expect(attempt).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempt).toHaveBeenCalledTimes(2);
    await expect(result).resolves.toBe('ok');
  });

  it('an abort during the wait rejects at once with the reason and makes no further attempt', async () => {
    const controller = new AbortController();
    const attempt = vi.fn(async () => {
      throw new Error('503');
    });
    const result = withRetry(attempt, { policy, signal: controller.signal, classify: () => rateLimited(30_000), random: () => 0 });
    const settled = result.catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(10);
    expect(attempt).toHaveBeenCalledTimes(1);
    const reason = new ServiceError('cancelled', 'run cancelled');
    controller.abort(reason);
    expect(await settled).toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it('counts attempts 1, 2, 3 and gives up with the last failure after maxAttempts', async () => {
    const seen: number[] = [];
    const attempt = vi.fn(async (n: number) => {
      seen.push(n);
      throw new Error(`fail ${n}`);
    });
    const settled = withRetry(attempt, { policy, signal: new AbortController().signal, classify: () => rateLimited(100), random: () => 0 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen).toEqual([1, 2, 3]);
    expect(((await settled) as Error).message).toBe('fail 3');
  });

  it('does not retry a failed first attempt that p-retry would not: a programming TypeError', async () => {
    const attempt = vi.fn(async () => {
      throw new TypeError('x is not a function');
    });
    await expect(withRetry(attempt, { policy, signal: new AbortController().signal, classify: () => rateLimited(0), random: () => 0 })).rejects.toThrow('x is not a function');
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it('answers the abort reason, not the value, when the run is aborted while its first attempt was in flight', async () => {
    const controller = new AbortController();
    const reason = new ServiceError('timeout', 'run exceeded timeout_ms');
    const attempt = vi.fn(async () => {
      controller.abort(reason);
      return 'late';
    });
    await expect(withRetry(attempt, { policy, signal: controller.signal, classify: () => rateLimited(0), random: () => 0 })).rejects.toBe(reason);
    expect(attempt).toHaveBeenCalledTimes(1);
  });
});
